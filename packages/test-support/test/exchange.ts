import t from 'tap'
import { createServer } from 'node:net'
import { exchange } from '../src/exchange.js'
import { portOf } from '../src/port-of.js'

t.test('exchange: the bytes out, the whole answer back', async t => {
  const srv = createServer(s => {
    s.once('data', (d: Buffer) => s.end(`got ${d.toString('utf8')}`))
  })
  await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => srv.close())
  const to = { host: '127.0.0.1', port: portOf(srv) }
  t.equal(await exchange(to, 'ping\n'), 'got ping\n')
})

t.test(
  'exchange: a server that never closes fails the bounded wait',
  async t => {
    const srv = createServer(() => {})
    await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
    t.teardown(() => srv.close())
    await t.rejects(
      exchange({ host: '127.0.0.1', port: portOf(srv) }, 'x\n', 50),
      { message: 'timed out after 50 ms waiting for the answer to "x\\n"' },
    )
  },
)
