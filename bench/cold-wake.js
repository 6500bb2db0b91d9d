#!/usr/bin/env node
// What one heartbeat round's codec work costs when it runs once per
// keepalive instead of back to back (issue 15, idle CPU). It calls
// heartbeatd's own encodeHeartbeat and decodeHeartbeat (the built dist)
// on a datagram like the bench pair's, first back to back, then once
// every P ms, and reports the median microseconds per call at each
// period. A process that wakes every 30 ms pays for the code and data it
// touches as if for the first time (caches and predictors lose them while
// the CPU idles); this measures that tax, which no trim of the
// instructions removes. No sockets, no root; bounded: CALLS per period.
//   node bench/cold-wake.js [--calls N] [--periods 0,1,10,30]
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { createHmac } from 'node:crypto'
import { loadavg } from 'node:os'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const arg = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? String(args[i + 1]) : dflt
}
const CALLS = Number(arg('--calls', '200'))
const PERIODS = arg('--periods', '0,1,10,30').split(',').map(Number)
if (!Number.isInteger(CALLS) || CALLS < 20 || CALLS > 10_000)
  throw new Error('--calls: 20 to 10000')
if (PERIODS.some(p => !Number.isFinite(p) || p < 0 || p > 1000))
  throw new Error('--periods: milliseconds, 0 to 1000 each')

const { encodeHeartbeat, decodeHeartbeat } = await import(
  pathToFileURL(join(ROOT, 'packages/heartbeatd/dist/packet.js')).href
)
// The bench pair's key and a holder's advert (one group held).
const auth = {
  active: 1,
  keys: [{ index: 1, algorithm: 'sha1', secret: 'bench-secret-0123456789' }],
}
const base = {
  from: 'master1',
  gen: 1796647074699,
  seq: 0,
  via: 'b',
  standby: false,
  takeover: false,
  pingOk: 0,
  pingTotal: 0,
  held: [{ group: 'master1', heldMs: 0 }],
  failed: [],
}

// The work measured, one function each: the codec as heartbeatd runs it,
// and a bare HMAC (the native part alone) for scale.
let seq = 0
const works = {
  'encodeHeartbeat + decodeHeartbeat': () => {
    seq++
    const b = encodeHeartbeat(
      { ...base, seq, held: [{ group: 'master1', heldMs: seq * 30 }] },
      auth,
    )
    if (!decodeHeartbeat(b, auth).ok) throw new Error('decode failed')
  },
  'createHmac(sha1) of 90 bytes': () => {
    seq++
    createHmac('sha1', auth.keys[0].secret)
      .update(`HB1 master1 1796647074699 ${seq} b - 0/0 master1@${seq} - 1`)
      .digest('hex')
  },
}

const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
const wait = ms =>
  new Promise(r => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)))

async function measure(fn, period) {
  for (let i = 0; i < 50; i++) fn() // warm: baseline-compiled, ICs filled
  const us = []
  for (let i = 0; i < CALLS; i++) {
    await wait(period)
    const t0 = performance.now()
    fn()
    us.push((performance.now() - t0) * 1000)
  }
  return median(us)
}

const rows = []
for (const [name, fn] of Object.entries(works)) {
  const cells = []
  for (const p of PERIODS) cells.push(await measure(fn, p))
  rows.push({ name, cells })
}
const head = PERIODS.map(p => (p === 0 ? 'back to back' : `every ${p} ms`))
console.log(
  `Command: \`node bench/cold-wake.js --calls ${CALLS} --periods ${PERIODS.join(',')}\`; load average ${loadavg()
    .map(x => x.toFixed(2))
    .join(' ')}; Node ${process.version}.`,
)
console.log('')
console.log(`| median µs per call | ${head.join(' | ')} |`)
console.log(`| --- | ${head.map(() => '---:').join(' | ')} |`)
for (const r of rows)
  console.log(`| ${r.name} | ${r.cells.map(c => c.toFixed(1)).join(' | ')} |`)
