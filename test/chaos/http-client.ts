// The chaos clients against a real server on loopback. Finding L: a
// keep-alive connection the server closed while idle (nginx killed and
// restarted) was written to anyway; Node reports that write only to its
// callback, so the request waited out the timeout and was charged to the
// cluster. No HTTP client sends on a connection it has seen closed.
import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:net'
import { once } from 'node:events'
import { loadHttpClient } from './helpers/http-client.js'

const lib = await loadHttpClient()

const page = Buffer.from('<h1>has</h1>\n')
const response = (body: Buffer): string =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body.toString()}`

/** A server answering one request per connection, then closing it. */
async function oneShotServer(t: Test): Promise<number> {
  const server: Server = createServer(c => {
    c.once('data', () => c.end(response(page)))
    c.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port bound')
  return a.port
}

t.test(
  'a connection the server closed while idle is reported idle-closed at once, not sent on',
  async t => {
    const port = await oneShotServer(t)
    const { s, err } = await lib.openConnection('127.0.0.1', 5000, port)
    if (!s) throw new Error(`connect failed: ${String(err)}`)
    s.on('error', () => {})
    const o = { close: false, expectBody: page, timeoutMs: 60_000 }
    t.equal(await lib.httpExchange(s, o), 'ok')
    // The server closes after its answer; wait until the client has seen it.
    if (!s.destroyed) await once(s, 'close')
    // Before the fix this waited the whole 60 s and resolved 'timeout'.
    t.equal(await lib.httpExchange(s, o), 'idle-closed')
  },
)

t.test('a wrong body and a refused connect are failures', async t => {
  const server = createServer(c => {
    c.once('data', () => c.end(response(Buffer.from('other\n'))))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('no port bound')
  const { s } = await lib.openConnection('127.0.0.1', 5000, a.port)
  if (!s) throw new Error('connect failed')
  s.on('error', () => {})
  t.equal(
    await lib.httpExchange(s, {
      close: true,
      expectBody: page,
      timeoutMs: 60_000,
    }),
    'bad-content',
  )
  s.destroy()
  server.close()
  await once(server, 'close')
  const refused = await lib.openConnection('127.0.0.1', 5000, a.port)
  t.equal(refused.err, 'ECONNREFUSED')
})
