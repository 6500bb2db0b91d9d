import t from 'tap'
import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import { portOf } from '../src/port-of.js'

t.test('portOf: the bound port of a TCP server and a UDP socket', async t => {
  const srv = createServer()
  await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => srv.close())
  const port = portOf(srv)
  t.ok(port > 0 && port < 65536)
  const udp = createSocket('udp4')
  await new Promise<void>(r => udp.bind(0, '127.0.0.1', r))
  t.teardown(() => udp.close())
  t.ok(portOf(udp) > 0)
})

t.test('portOf: a server that does not listen is an error', async t => {
  t.throws(() => portOf(createServer()), /not listening on a port/)
})
