// The userspace proxy's relay, one ProxyService in this process against
// real backends on loopback: early bytes, half-close both ways, another
// node after a refused or unanswered connect, idle timeout, drain on close,
// byte counters. These pin the behaviour the hot path must keep, on the
// default engine (libuv handles) here and on the net.Socket fallback in
// proxy-service-streams.ts, which runs this file with TM_PROXY_RELAY=streams.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { silentLogger } from '@has/daemon-kit'
import { ManualClock, waitFor, within } from '@has/test-support'
import {
  IDLE_SWEEPS,
  ProxyService,
  type ProxySpec,
} from '../src/proxy-service.js'
import { relayFin } from '../src/relay-streams.js'
import type { Backend } from '../src/data-plane.js'
import { PROXY_SPEC } from './fixtures/proxy-spec.js'

const SPEC: ProxySpec = PROXY_SPEC

async function service(
  t: Test,
  spec: Partial<ProxySpec>,
  backends: Backend[],
  clock?: ManualClock,
): Promise<ProxyService> {
  const s = new ProxyService(
    { ...SPEC, ...spec },
    silentLogger(),
    clock ? { clock } : {},
  )
  await s.listen()
  s.update(backends)
  t.teardown(() => {
    s.destroyAll()
    return s.close()
  })
  return s
}

/** A backend that echoes, and on the client's FIN sends `tail` and ends. */
async function echo(
  t: Test,
  tail = 'done',
): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, s => {
    sockets.add(s)
    // A client cut halfway resets its relayed connection: not a failure here.
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
    s.on('data', d => s.write(d))
    s.on('end', () => s.end(tail))
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  const a = server.address()
  return { port: a && typeof a === 'object' ? a.port : 0, server, sockets }
}

/** Sends `body`, half-closes, reads to the end. */
function exchange(port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    let got = ''
    c.setEncoding('utf8')
    c.on('data', (d: string) => (got += d))
    c.on('error', reject)
    c.on('end', () => {
      c.end()
      resolve(got)
    })
    // Written at once: the proxy holds it until the node connection is up.
    c.write(body)
    c.end()
  })
}

/** Bytes that differ from one 64 KiB block to the next, so a chunk out of place shows. */
const patternAt = (k: number): number => (k * 7 + (k >> 16) * 13) & 255
function pattern(size: number): Buffer {
  const b = Buffer.alloc(size)
  for (let k = 0; k < size; k++) b[k] = patternAt(k)
  return b
}

function closedPort(): Promise<number> {
  return new Promise(resolve => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(a && typeof a === 'object' ? a.port : 0))
    })
  })
}

const RELAY = process.env.TM_PROXY_RELAY === 'streams' ? 'streams' : 'handles'

t.test(`the service relays on ${RELAY}`, async t => {
  const s = await service(t, {}, [])
  t.equal(s.relay, RELAY)
})

t.test(
  'relays early bytes and half-close both ways; counts bytes per node',
  async t => {
    const b = await echo(t, 'bye')
    const s = await service(t, {}, [
      { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    t.equal(
      await within(exchange(s.port, 'hello'), 5000, 'the relayed reply'),
      'hellobye',
    )
    await within(
      (async () => {
        while (s.openConnections > 0) await new Promise(r => setImmediate(r))
      })(),
      5000,
      'the relayed connection to close',
    )
    const c = s.counters().get('a')
    t.match(c, { active: 0, total: 1, bytesIn: 5, bytesOut: 8 })
  },
)

t.test(
  'a refused connect moves to another node; the client sees nothing',
  async t => {
    const b = await echo(t)
    const dead = await closedPort()
    const s = await service(t, {}, [
      { id: 'dead', host: '127.0.0.1', port: dead, weight: 1 },
      { id: 'live', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    for (let i = 0; i < 4; i++)
      t.equal(
        await within(exchange(s.port, `r${i}`), 5000, `reply ${i}`),
        `r${i}done`,
      )
    t.equal(
      s.counters().get('dead')?.total ?? 0,
      0,
      'no connection counted on the refusing node',
    )
    t.equal(s.counters().get('live')?.active, 0)
  },
)

/**
 * A listener that never accepts, its queue full: SYNs are dropped, so a
 * connect to it neither succeeds nor fails until our timeout.
 */
async function stuckListener(t: Test): Promise<number> {
  const py = spawn(
    'python3',
    [
      '-c',
      [
        'import socket, sys',
        's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
        'print(s.getsockname()[1], flush=True); sys.stdin.read()',
      ].join('\n'),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  t.teardown(() => py.kill())
  const port = await within(
    new Promise<number>(r =>
      py.stdout.once('data', (d: Buffer) => r(Number(String(d).trim()))),
    ),
    10000,
    'the stuck listener',
  )
  const fillers: Socket[] = []
  t.teardown(() => fillers.forEach(f => f.destroy()))
  // Fill the accept queue (backlog 0 holds one); the next SYN is dropped.
  await within(
    new Promise<void>((resolve, reject) => {
      const f = connect(port, '127.0.0.1', () => resolve())
      f.on('error', reject)
      fillers.push(f)
    }),
    5000,
    'the filler connection',
  )
  return port
}

t.test('an unanswered connect times out and moves to another node', async t => {
  const stuck = await stuckListener(t)
  const b = await echo(t)
  const s = await service(t, { connectTimeoutMs: 200 }, [
    { id: 'stuck', host: '127.0.0.1', port: stuck, weight: 1 },
    { id: 'live', host: '127.0.0.1', port: b.port, weight: 1 },
  ])
  // rr visits both nodes in two connections: one of them meets the stuck node.
  for (let i = 0; i < 2; i++)
    t.equal(
      await within(exchange(s.port, `t${i}`), 10000, `reply ${i}`),
      `t${i}done`,
    )
  t.equal(s.counters().get('stuck')?.total ?? 0, 0)
  t.equal(s.counters().get('live')?.total, 2)
})

t.test(
  'a connect waiting on a node that leaves moves to another node at once',
  async t => {
    const stuck = await stuckListener(t)
    const b = await echo(t)
    // connect-timeout far past the test's bound: only the node leaving can
    // move the connection on in time.
    const s = await service(t, { connectTimeoutMs: 60_000 }, [
      { id: 'stuck', host: '127.0.0.1', port: stuck, weight: 1 },
    ])
    const reply = exchange(s.port, 'x')
    await waitFor(() => s.counters().get('stuck')?.active === 1, {
      what: 'the connect to the stuck node under way',
    })
    s.update([{ id: 'live', host: '127.0.0.1', port: b.port, weight: 1 }])
    t.equal(await within(reply, 10000, 'reply from the live node'), 'xdone')
    t.equal(s.counters().get('live')?.total, 1)
  },
)

t.test(
  'a connect waiting on a drained node (weight 0) is left to it',
  async t => {
    const stuck = await stuckListener(t)
    const b = await echo(t)
    const s = await service(t, { connectTimeoutMs: 300 }, [
      { id: 'stuck', host: '127.0.0.1', port: stuck, weight: 1 },
    ])
    const reply = exchange(s.port, 'y')
    await waitFor(() => s.counters().get('stuck')?.active === 1, {
      what: 'the connect to the stuck node under way',
    })
    s.update([
      { id: 'stuck', host: '127.0.0.1', port: stuck, weight: 0 },
      { id: 'live', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    t.equal(s.counters().get('stuck')?.active, 1, 'still waiting on it')
    t.equal(await within(reply, 10000, 'reply after the timeout'), 'ydone')
  },
)

// The connect timeouts share one timer armed for the earliest deadline: a
// reload that shortens connect-timeout must not leave new attempts waiting
// for a deadline set under the old value.
t.test(
  'a reload that shortens connect-timeout applies to the next attempt',
  async t => {
    const stuck = await stuckListener(t)
    const b = await echo(t)
    const s = await service(t, { connectTimeoutMs: 600_000 }, [
      { id: 'stuck', host: '127.0.0.1', port: stuck, weight: 1 },
    ])
    // An attempt under the old value arms the timer ten minutes ahead.
    const first = connect(s.port, '127.0.0.1')
    first.on('error', () => {})
    t.teardown(() => first.destroy())
    await waitFor(() => (s.counters().get('stuck')?.active ?? 0) >= 1, {
      what: 'the first attempt to the stuck node',
      intervalMs: 10,
    })
    s.reconfigure({ ...s.spec, connectTimeoutMs: 200 })
    s.update([
      { id: 'stuck', host: '127.0.0.1', port: stuck, weight: 1 },
      { id: 'live', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    for (let i = 0; i < 2; i++)
      t.equal(
        await within(
          exchange(s.port, `r${i}`),
          10000,
          `reply ${i} within the new connect-timeout`,
        ),
        `r${i}done`,
      )
  },
)

t.test(
  'an idle connection is closed after idle-timeout, both sides',
  async t => {
    const b = await echo(t)
    const s = await service(t, { idleTimeoutMs: 100 }, [
      { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    const c = connect(s.port, '127.0.0.1')
    c.on('error', () => {})
    const first = new Promise<string>(r =>
      c.once('data', (d: Buffer) => r(String(d))),
    )
    c.write('x')
    t.equal(await within(first, 5000, 'the echo'), 'x')
    await within(
      new Promise(r => c.once('close', r)),
      10000,
      'the idle client connection to be closed',
    )
    await waitFor(() => b.sockets.size === 0 && s.openConnections === 0, {
      what: 'the node side to be closed too',
      intervalMs: 10,
    })
    t.equal(s.counters().get('a')?.active, 0)
  },
)

t.test(
  'a reload that sets idle-timeout applies to open connections',
  async t => {
    const b = await echo(t)
    const s = await service(t, { idleTimeoutMs: 0 }, [
      { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    const c = connect(s.port, '127.0.0.1')
    c.on('error', () => {})
    const first = new Promise<string>(r =>
      c.once('data', (d: Buffer) => r(String(d))),
    )
    c.write('x')
    t.equal(await within(first, 5000, 'the echo'), 'x')
    s.reconfigure({ ...s.spec, idleTimeoutMs: 100 })
    await within(
      new Promise(r => c.once('close', r)),
      10000,
      'the idle connection to be closed after the reload',
    )
  },
)

t.test(
  'close() stops accepting and resolves once open connections end',
  async t => {
    const b = await echo(t)
    const s = await service(t, {}, [
      { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    const c = connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true })
    c.on('error', () => {})
    const first = new Promise<void>(r => c.once('data', () => r()))
    c.write('x')
    await within(first, 5000, 'the echo')
    let closed = false
    const closing = s.close().then(() => (closed = true))
    // A round trip through the relay: the open connection still works.
    const second = new Promise<string>(r =>
      c.once('data', (d: Buffer) => r(String(d))),
    )
    c.write('y')
    t.equal(await within(second, 5000, 'the second echo'), 'y')
    t.equal(closed, false, 'close() waits for the open connection')
    c.end()
    await within(closing, 5000, 'close() after the connection ended')
    t.equal(s.openConnections, 0)
  },
)

t.test('destroyAll cuts open connections', async t => {
  const b = await echo(t)
  const s = await service(t, {}, [
    { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
  ])
  const c = connect(s.port, '127.0.0.1')
  c.on('error', () => {})
  const first = new Promise<void>(r => c.once('data', () => r()))
  c.write('x')
  await within(first, 5000, 'the echo')
  t.equal(s.counters().get('a')?.active, 1)
  s.destroyAll()
  await within(
    new Promise(r => c.once('close', r)),
    5000,
    'the cut connection to close',
  )
})

t.test(
  'a large transfer keeps every byte in order (backpressure both ways)',
  async t => {
    const b = await echo(t, '')
    const s = await service(t, {}, [
      { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    const body = Buffer.alloc(8 * 1024 * 1024)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 255
    const got = await within(
      new Promise<Buffer>((resolve, reject) => {
        const c = connect({
          port: s.port,
          host: '127.0.0.1',
          allowHalfOpen: true,
        })
        const parts: Buffer[] = []
        c.on('data', (d: Buffer) => parts.push(d))
        c.on('error', reject)
        c.on('end', () => {
          c.end()
          resolve(Buffer.concat(parts))
        })
        c.end(body)
      }),
      20000,
      'the 8 MiB echo',
    )
    t.equal(got.length, body.length)
    t.ok(got.equals(body), 'same bytes, same order')
  },
)

// Many connections at once, each with its own bytes, some read late and
// some cut halfway: every finished one must get back exactly what it sent.
// The handle relay reuses read buffers across connections (a pool), so a
// buffer handed back too early would show here as another connection's
// bytes.
t.test(
  'concurrent connections keep their own bytes, whatever the others do',
  async t => {
    const b = await echo(t, '')
    const s = await service(t, {}, [
      { id: 'a', host: '127.0.0.1', port: b.port, weight: 1 },
    ])
    let seed = 7
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
      return seed % n
    }
    const one = (i: number): Promise<'ok' | 'cut'> => {
      const size = 1 + rand(512 * 1024)
      const body = Buffer.alloc(size)
      for (let k = 0; k < size; k++) body[k] = (k * 31 + i * 17) & 255
      const late = rand(4) === 0
      const cut = rand(8) === 0
      return new Promise((resolve, reject) => {
        const c = connect({
          port: s.port,
          host: '127.0.0.1',
          allowHalfOpen: true,
        })
        const parts: Buffer[] = []
        let got = 0
        c.on('data', (d: Buffer) => {
          parts.push(d)
          got += d.length
          if (cut && got >= size / 2) {
            c.destroy()
            resolve('cut')
          }
        })
        c.on('error', e => (cut ? resolve('cut') : reject(e)))
        c.on('end', () => {
          c.end()
          const back = Buffer.concat(parts)
          if (back.equals(body)) resolve('ok')
          else
            reject(
              new Error(
                `connection ${i}: ${back.length} of ${size} bytes, or not the same bytes`,
              ),
            )
        })
        if (late) {
          c.pause()
          setTimeout(() => c.resume(), 50)
        }
        c.end(body)
      })
    }
    const results = await within(
      Promise.all(Array.from({ length: 120 }, (_, i) => one(i))),
      60000,
      'the 120 connections',
    )
    const ok = results.filter(r => r === 'ok').length
    t.ok(ok > 90, `${ok} whole echoes (the rest were cut by their client)`)
    t.equal(ok + results.filter(r => r === 'cut').length, 120)
    await within(
      (async () => {
        while (s.openConnections > 0) await new Promise(r => setImmediate(r))
      })(),
      10000,
      'every relayed connection to close',
    )
  },
)

// The client's FIN came first and it reads slowly: the node's answer and
// FIN must reach it whole, although the proxy's writes to it queue up and
// the last FIN closes the client end (both engines close, not shut down,
// an end that has read its FIN).
t.test(
  'a client that half-closed first gets all of a large answer, then the FIN',
  async t => {
    // More than the loopback buffers on the way hold, so the proxy's
    // writes to the client queue up while it does not read.
    const size = 64 * 1024 * 1024
    let sawFin!: () => void
    const finAtNode = new Promise<void>(r => (sawFin = r))
    const server = createServer({ allowHalfOpen: true }, s => {
      s.on('error', () => {})
      s.resume()
      s.on('end', () => {
        sawFin()
        s.end(pattern(size))
      })
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    t.teardown(() => server.close())
    const a = server.address()
    const svc = await service(t, {}, [
      {
        id: 'a',
        host: '127.0.0.1',
        port: a && typeof a === 'object' ? a.port : 0,
        weight: 1,
      },
    ])
    const c = connect({
      port: svc.port,
      host: '127.0.0.1',
      allowHalfOpen: true,
    })
    t.teardown(() => c.destroy())
    c.pause()
    c.end('request')
    await within(finAtNode, 5000, "the client's FIN at the node")
    // Checked as it comes: a read buffer reused while its bytes were still
    // queued for the client would show as wrong bytes, not fewer.
    let got = 0
    let wrong = -1
    c.on('data', (d: Buffer) => {
      for (let k = 0; k < d.length && wrong < 0; k++)
        if (d[k] !== patternAt(got + k)) wrong = got + k
      got += d.length
    })
    c.resume()
    await within(
      new Promise(r => c.once('end', r)),
      20000,
      'the client to read the answer to its end',
    )
    t.equal(got, size, 'every byte, then the FIN')
    t.equal(wrong, -1, 'the same bytes in the same order')
    await within(
      (async () => {
        while (svc.openConnections > 0) await new Promise(r => setImmediate(r))
      })(),
      5000,
      'the relayed connection to close',
    )
    t.match(svc.counters().get('a'), { active: 0, bytesIn: 7, bytesOut: size })
  },
)

// The second FIN of a connection may close the socket instead of a
// shutdown, but only once what was written to it is flushed: here the
// peer reads nothing until after, so most of the bytes are still queued.
t.test(
  'relaying the last FIN never drops bytes still queued for the peer',
  async t => {
    const server = createServer({ allowHalfOpen: true })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    t.teardown(() => server.close())
    const a = server.address()
    const accepted = new Promise<Socket>(r => server.once('connection', r))
    const peer = connect({
      port: a && typeof a === 'object' ? a.port : 0,
      host: '127.0.0.1',
      allowHalfOpen: true,
    })
    peer.pause()
    peer.end()
    const ours = await within(accepted, 5000, 'the accepted socket')
    t.teardown(() => ours.destroy())
    ours.resume()
    await within(new Promise(r => ours.once('end', r)), 5000, "the peer's FIN")
    // More than loopback's socket buffers hold while the peer is not reading.
    const body = Buffer.alloc(32 * 1024 * 1024, 7)
    ours.write(body)
    t.ok(ours.writableLength > 0, 'bytes are still queued')
    relayFin(ours)
    let got = 0
    peer.on('data', (d: Buffer) => (got += d.length))
    peer.resume()
    await within(
      new Promise(r => peer.once('end', r)),
      20000,
      'the peer to read to the end',
    )
    t.equal(got, body.length, 'every byte, then the FIN')
  },
)

// The service's timers run on the injected clock: these move time by hand,
// so what they pin is the rule (deadline and sweep count), not a duration.
t.test(
  'a connection held without a backend closes when the clock passes connect-timeout',
  async t => {
    const clock = new ManualClock()
    const s = await service(t, { connectTimeoutMs: 5000 }, [], clock)
    const c = connect(s.port, '127.0.0.1')
    c.on('error', () => {})
    const closed = new Promise(r => c.once('close', r))
    await waitFor(() => s.heldNow === 1, { what: 'the connection to be held' })
    clock.advance(4999)
    t.equal(s.heldNow, 1, 'still held 1 ms before the deadline')
    clock.advance(1)
    await within(closed, 5000, 'the held connection to be closed')
    t.equal(s.refused, 1)
    t.equal(s.heldTotal, 1)
  },
)

t.test(
  'a held connection is served once a backend arrives before the deadline',
  async t => {
    const clock = new ManualClock()
    const b = await echo(t)
    const s = await service(t, { connectTimeoutMs: 5000 }, [], clock)
    const reply = exchange(s.port, 'held')
    await waitFor(() => s.heldNow === 1, { what: 'the connection to be held' })
    clock.advance(4000)
    s.update([{ id: 'a', host: '127.0.0.1', port: b.port, weight: 1 }])
    t.equal(await within(reply, 5000, 'the reply'), 'helddone')
    t.equal(
      clock.pending,
      1,
      'the hold timer is cancelled (the one left is the connect sweep)',
    )
    t.equal(s.refused, 0)
  },
)

t.test(
  'idle-timeout closes a quiet connection after IDLE_SWEEPS clock sweeps',
  async t => {
    const clock = new ManualClock()
    const b = await echo(t)
    const s = await service(
      t,
      { idleTimeoutMs: 4000 },
      [{ id: 'a', host: '127.0.0.1', port: b.port, weight: 1 }],
      clock,
    )
    const c = connect(s.port, '127.0.0.1')
    c.on('error', () => {})
    const first = new Promise<string>(r =>
      c.once('data', (d: Buffer) => r(String(d))),
    )
    c.write('x')
    t.equal(await within(first, 5000, 'the echo'), 'x')
    const closed = new Promise(r => c.once('close', r))
    const sweep = 4000 / IDLE_SWEEPS
    // The first sweep clears the busy flag the echo set; IDLE_SWEEPS quiet
    // sweeps after it close the connection.
    clock.advance(sweep * IDLE_SWEEPS)
    t.equal(s.openConnections, 1, 'open after one busy and three quiet sweeps')
    clock.advance(sweep)
    await within(closed, 5000, 'the idle connection to be closed')
  },
)
