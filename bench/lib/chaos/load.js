#!/usr/bin/env node
// The clients (run inside the client namespace by bench/chaos.js): a bounded
// mix of keep-alive requests, one connection per request and long-lived
// streams (one TCP connection, a request every second, for 20-60 s), over
// IPv4 and IPv6, every response checked byte for byte. One JSON line per
// second on stdout: counts per kind, failure reasons, streams opened, ended
// and lost (with their ages). Stops by itself after --seconds.
//   node load.js '<json options>'
import { httpExchange, openConnection } from './http-client.js'
import { streamClient } from './stream-client.js'

const opt = JSON.parse(process.argv[2])
const { v4, v6, page, seconds, gapMs = 20 } = opt
const workers = opt.workers ?? { ka4: 3, ka6: 1, conn4: 2, conn6: 1 }
const STREAMS = opt.streams ?? 20
const REQ_TIMEOUT = opt.timeoutMs ?? 2000
const expectBody = Buffer.from(page)
const endAt = Date.now() + seconds * 1000
let stopping = false

let bucket = fresh()
function fresh() {
  return {
    ok: {},
    fail: {},
    reasons: {},
    streamsLost: [],
    streamsOpened: 0,
    streamsEnded: 0,
    // Keep-alive connections found closed before a request (reopened).
    idleClosed: 0,
    // Each failed request: when it ended, its kind and reason, and the
    // client's port, so a capture can find its connection (bounded).
    failures: [],
  }
}
const MAX_FAILURES = 100
const count = (kind, ok, reason, sock) => {
  const m = ok ? bucket.ok : bucket.fail
  m[kind] = (m[kind] ?? 0) + 1
  if (ok) return
  bucket.reasons[reason] = (bucket.reasons[reason] ?? 0) + 1
  if (bucket.failures.length < MAX_FAILURES)
    bucket.failures.push({
      t: Date.now(),
      kind,
      reason,
      ...(sock?.localPort ? { port: sock.localPort } : {}),
    })
}

const exchange = (sock, close) =>
  httpExchange(sock, { close, expectBody, timeoutMs: REQ_TIMEOUT })
const open = host => openConnection(host, REQ_TIMEOUT)
const sleep = ms => new Promise(r => setTimeout(r, ms))

async function keepAlive(kind, host) {
  let s
  while (!stopping) {
    if (!s) {
      const r = await open(host)
      if (r.err) {
        count(kind, false, r.err)
        await sleep(gapMs)
        continue
      }
      s = r.s
      s.on('error', () => {})
    }
    const r = await exchange(s, false)
    if (r === 'idle-closed') {
      // Nothing was sent: reconnect, as a browser would, and send there.
      s.destroy()
      s = undefined
      bucket.idleClosed++
      continue
    }
    count(kind, r === 'ok', r, s)
    if (r !== 'ok') {
      s.destroy()
      s = undefined
    }
    await sleep(gapMs)
  }
  s?.destroy()
}

async function perConnection(kind, host) {
  while (!stopping) {
    const r = await open(host)
    if (r.err) count(kind, false, r.err)
    else {
      r.s.on('error', () => {})
      const x = await exchange(r.s, true)
      count(kind, x === 'ok', x, r.s)
      r.s.destroy()
    }
    await sleep(gapMs)
  }
}

let seed = 1
const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647
const stream = host =>
  streamClient({
    open: () => open(host),
    exchange: s => exchange(s, false),
    sleep,
    count,
    lost: x => bucket.streamsLost.push(x),
    opened: () => bucket.streamsOpened++,
    ended: () => bucket.streamsEnded++,
    stopping: () => stopping,
    lifeMs: () => 20_000 + rnd() * 40_000,
  })

const tasks = []
for (let i = 0; i < workers.ka4; i++) tasks.push(keepAlive('ka4', v4))
for (let i = 0; i < workers.ka6; i++) tasks.push(keepAlive('ka6', v6))
for (let i = 0; i < workers.conn4; i++) tasks.push(perConnection('conn4', v4))
for (let i = 0; i < workers.conn6; i++) tasks.push(perConnection('conn6', v6))
for (let i = 0; i < STREAMS; i++)
  tasks.push(sleep(i * 100).then(() => stream(v4)))
const tick = setInterval(() => {
  process.stdout.write(JSON.stringify({ t: Date.now(), ...bucket }) + '\n')
  bucket = fresh()
  if (Date.now() >= endAt) stopping = true
}, 1000)
await Promise.all(tasks)
clearInterval(tick)
process.stdout.write(
  JSON.stringify({ t: Date.now(), ...bucket, final: true }) + '\n',
)
