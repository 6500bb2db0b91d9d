#!/usr/bin/env node
// New connections refused while traffic-manager rewrites its nftables table
// (chaos finding N). A client in a namespace opens short connections to the
// VIP as fast as it can while the master's table is rewritten with new
// weights, as load reports make traffic-manager do; each run once with the
// table as built today (a fallback rule after the weighted map) and once
// without that rule (the table before finding N), and once with no
// rewrites. A refused connection is one whose SYN missed the map and went
// up the master's own stack. Root only; all traffic stays inside the
// namespaces it makes and deletes.
//   node bench/nft-rewrite.js [--seconds 15] [--every-ms 20] [--out FILE]
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from './lib/procs.js'
import { netnsBench } from './lib/netns-bench.js'

const { buildRuleset } = await import(
  join(ROOT, 'packages/traffic-manager/dist/nft/ruleset.js')
)
const USAGE =
  'usage: node bench/nft-rewrite.js [--seconds 1..120] [--every-ms >= 1] [--out FILE]'
let opts
try {
  opts = parseArgs({
    options: {
      seconds: { type: 'string', default: '15' },
      'every-ms': { type: 'string', default: '20' },
      out: { type: 'string' },
    },
  }).values
} catch (e) {
  console.error(`nft-rewrite: ${e.message}\n${USAGE}`)
  process.exit(2)
}
const seconds = Number(opts.seconds)
const everyMs = Number(opts['every-ms'])
if (!(seconds > 0 && seconds <= 120) || !(everyMs >= 1)) {
  console.error(
    `nft-rewrite: --seconds ${JSON.stringify(opts.seconds)} --every-ms ${JSON.stringify(opts['every-ms'])}: out of range\n${USAGE}`,
  )
  process.exit(2)
}
if (process.getuid?.() !== 0) {
  console.log('nft-rewrite: skipped: needs root for network namespaces')
  process.exit(0)
}

const { addNs, ip, nsx, sh, track } = netnsBench('hnr')
const ns = {}
for (const id of ['c', 'm', 'b1', 'b2']) ns[id] = addNs(id)
const inNs = (id, cmd, ...args) => nsx(ns[id], cmd, ...args)

// client c -- master m -- nodes b1, b2 (point-to-point links)
const link = (a, ia, addrA, b, ib, addrB) => {
  sh('ip', [
    'link',
    'add',
    ia,
    'netns',
    ns[a],
    'type',
    'veth',
    'peer',
    'name',
    ib,
    'netns',
    ns[b],
  ])
  for (const [id, dev, addr] of [
    [a, ia, addrA],
    [b, ib, addrB],
  ]) {
    ip(ns[id], 'addr', 'add', addr, 'dev', dev)
    ip(ns[id], 'link', 'set', dev, 'up')
  }
}
link('c', 'eth0', '10.9.1.2/24', 'm', 'c0', '10.9.1.1/24')
link('b1', 'eth0', '10.9.2.2/24', 'm', 'n1', '10.9.2.1/24')
link('b2', 'eth0', '10.9.3.2/24', 'm', 'n2', '10.9.3.1/24')
ip(ns.c, 'route', 'add', 'default', 'via', '10.9.1.1')
ip(ns.b1, 'route', 'add', 'default', 'via', '10.9.2.1')
ip(ns.b2, 'route', 'add', 'default', 'via', '10.9.3.1')
ip(ns.m, 'addr', 'add', '10.9.1.100/32', 'dev', 'lo')
inNs('m', 'sysctl', '-qw', 'net.ipv4.ip_forward=1')

/** A Node script in a namespace; its stdout is read by the caller. */
const run = (id, script, ...args) =>
  track(
    spawn(
      'ip',
      ['netns', 'exec', ns[id], process.execPath, '-e', script, ...args],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  )
// Each node answers and closes first, as nginx does with Connection: close.
for (const [id, addr] of [
  ['b1', '10.9.2.2'],
  ['b2', '10.9.3.2'],
]) {
  const s = run(
    id,
    `require('net').createServer(s => { s.on('error', () => {}); s.once('data', () => s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok')) }).listen(8080, '${addr}', () => console.log('up'))`,
  )
  await new Promise(r => s.stdout.once('data', r))
}
// Four sequential connection loops for `seconds`; prints the counts.
const CLIENT = `
const net = require('net'), end = Date.now() + Number(process.argv[1]) * 1000
const r = { ok: 0, refused: 0, other: 0 }
let live = 4
function one() {
  if (Date.now() > end) { if (--live === 0) console.log(JSON.stringify(r)); return }
  const s = net.connect(80, '10.9.1.100'); let done = false
  const fin = k => { if (done) return; done = true; clearTimeout(t); r[k]++; s.destroy(); setImmediate(one) }
  const t = setTimeout(() => fin('other'), 3000)
  s.on('connect', () => s.write('GET / HTTP/1.1\\r\\n\\r\\n'))
  s.on('data', () => {}); s.on('end', () => fin('ok'))
  s.on('error', e => fin(e.code === 'ECONNREFUSED' ? 'refused' : 'other'))
}
for (let i = 0; i < 4; i++) one()`

const spec = {
  name: '10.9.1.100:80',
  address: '10.9.1.100',
  port: 80,
  family: 4,
}
const table = w =>
  buildRuleset(spec, [
    { id: 'b1', host: '10.9.2.2', port: 8080, weight: w },
    { id: 'b2', host: '10.9.3.2', port: 8080, weight: 256 - w },
  ])
const withoutFallback = text =>
  text
    .split('\n')
    .filter(l => !/counter name vip_fallback dnat/.test(l))
    .join('\n')
const fallbackCount = () => {
  const out = inNs(
    'm',
    'nft',
    'list',
    'counter',
    'ip',
    'has_tm_10_9_1_100_80',
    'vip_fallback',
  )
  return Number(/packets (\d+)/.exec(out)?.[1] ?? 0)
}

async function variant(name, rewrite, shape) {
  inNs('m', 'nft', '-f', '-', shape(table(128)))
  const before = fallbackCount()
  const client = run('c', CLIENT, String(seconds))
  let out = ''
  client.stdout.on('data', d => (out += d))
  const done = new Promise(r => client.once('exit', r))
  let writes = 0
  let stop = false
  void done.then(() => (stop = true))
  const t0 = Date.now()
  while (rewrite && !stop && Date.now() - t0 < (seconds + 5) * 1000) {
    inNs('m', 'nft', '-f', '-', shape(table(64 + (writes % 128))))
    writes++
    await new Promise(r => setTimeout(r, everyMs))
  }
  await done
  const r = JSON.parse(out)
  const row = { name, writes, ...r, fallback: fallbackCount() - before }
  console.log(JSON.stringify(row))
  return row
}

const rows = []
rows.push(await variant('no rewrites', false, t => t))
rows.push(
  await variant(
    'rewrites, table without the fallback rule',
    true,
    withoutFallback,
  ),
)
rows.push(
  await variant('rewrites, table as built (fallback rule)', true, t => t),
)
const meta = {
  command:
    `node bench/nft-rewrite.js ${process.argv.slice(2).join(' ')}`.trim(),
  kernel: sh('uname', ['-r']).trim(),
  seconds,
  everyMs,
  date: new Date().toISOString(),
}
if (opts.out)
  writeFileSync(opts.out, JSON.stringify({ meta, rows }, null, 2) + '\n')
console.log(JSON.stringify({ meta }))
// The children's pipes would keep the loop alive; exit runs the clean-up.
process.exit(0)
