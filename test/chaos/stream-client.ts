// The chaos load's stream client against a real server on loopback.
// Finding M: when nginx was killed, a stream whose connection it closed
// between two requests was charged a failed request, though none was sent
// on it; the keep-alive clients already send such a request on a new
// connection (finding L). Now the stream is recorded lost with
// `request: false` and its next request goes on a new stream at once; a
// request that was sent and got no answer still fails.
import t, { type Test } from 'tap'
import { createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { ROOT, within } from '@has/test-support'
import { loadHttpClient } from './helpers/http-client.js'

interface Lost {
  ageMs: number
  bornAt: number
  reason: string
  request: boolean
}
interface Env {
  open: () => Promise<{ s?: Socket; err?: string }>
  exchange: (s: Socket) => Promise<string>
  sleep: (ms: number) => Promise<void>
  count: (kind: string, ok: boolean, reason: string) => void
  lost: (x: Lost) => void
  opened: () => void
  ended: () => void
  stopping: () => boolean
  lifeMs: () => number
  periodMs?: number
  retryMs?: number
}

const http = await loadHttpClient()
const { streamClient } = (await import(
  join(ROOT, 'bench/lib/chaos/stream-client.js')
)) as { streamClient: (env: Env) => Promise<void> }

const page = Buffer.from('<h1>has</h1>\n')
const answer = `HTTP/1.1 200 OK\r\nContent-Length: ${page.length}\r\n\r\n${page.toString()}`

/**
 * A keep-alive server that, on each connection's second request, either
 * answers and closes (`after`: the web server dies between two requests)
 * or closes without answering (`during`: it dies with a request in flight).
 * Records the requests each connection got, by the client's port.
 */
async function server(t: Test, mode: 'after' | 'during') {
  const perConn = new Map<number, number>()
  const closing = new Set<number>()
  const srv = createServer(c => {
    const port = c.remotePort ?? 0
    perConn.set(port, 0)
    c.on('error', () => {})
    c.on('data', () => {
      const n = (perConn.get(port) ?? 0) + 1
      perConn.set(port, n)
      if (n < 2) return void c.write(answer)
      closing.add(port)
      if (mode === 'after') c.end(answer)
      else c.destroy()
    })
  })
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  t.teardown(() => srv.close())
  const a = srv.address()
  if (a === null || typeof a === 'string') throw new Error('no port bound')
  return { port: a.port, perConn, closing }
}

function run(
  port: number,
  closing: Set<number>,
  stopAfterOk: number,
): Promise<{
  ok: number
  failed: string[]
  lost: Lost[]
  opened: number
  ended: number
}> {
  const out = {
    ok: 0,
    failed: [] as string[],
    lost: [] as Lost[],
    opened: 0,
    ended: 0,
  }
  let current: Socket | undefined
  return streamClient({
    open: async () => {
      const r = await http.openConnection('127.0.0.1', 5000, port)
      current = r.s
      return r
    },
    exchange: s =>
      http.httpExchange(s, { close: false, expectBody: page, timeoutMs: 5000 }),
    // Between two requests: when the server has closed this connection,
    // wait until the client has seen its FIN (what a 1 s period gives the
    // real load), so the next exchange meets a closed connection.
    sleep: async () => {
      const s = current
      if (!s || !closing.has(s.localPort ?? -1) || s.readableEnded) return
      await within(once(s, 'end'), 10_000, "the client seeing the server's FIN")
    },
    count: (_kind, ok, reason) => {
      if (ok) out.ok++
      else out.failed.push(reason)
    },
    lost: x => out.lost.push(x),
    opened: () => out.opened++,
    ended: () => out.ended++,
    stopping: () => out.ok >= stopAfterOk,
    lifeMs: () => 60_000,
    periodMs: 0,
    retryMs: 0,
  }).then(() => out)
}

t.test(
  'a stream the server closed between two requests is lost, but no request failed: it goes on a new stream',
  async t => {
    const { port, perConn, closing } = await server(t, 'after')
    const r = await within(run(port, closing, 6), 10_000, 'six good answers')
    t.same(r.failed, [], 'no request charged as failed')
    t.equal(r.ok, 6)
    t.equal(r.lost.length, 2, 'the first two streams were closed under it')
    for (const x of r.lost) {
      t.equal(x.reason, 'closed')
      t.equal(x.request, false, 'recorded as a loss without a request')
    }
    t.equal(r.opened, 3)
    t.equal(r.ended, 1, 'the third ended when the client stopped')
    // Every request was sent once and answered: two on each connection.
    t.same([...perConn.values()], [2, 2, 2])
  },
)

t.test(
  'a stream whose server dies with a request in flight charges that request',
  async t => {
    const { port, closing } = await server(t, 'during')
    const r = await within(run(port, closing, 3), 10_000, 'three good answers')
    t.equal(r.ok, 3)
    t.equal(r.failed.length, 2, 'each in-flight request failed')
    t.equal(r.lost.length, 2)
    for (const x of r.lost) t.equal(x.request, true)
    t.same(
      r.failed,
      r.lost.map(x => x.reason),
      'the loss carries the failure reason',
    )
  },
)
