// Direct routing (traffic-manager `dataplane nftables-dr`) against the NAT
// plane (`dataplane nftables`), routing through the master without NAT and
// direct access to a node, in one run in the same namespaces, for small
// (627 B) and large (1 MB) responses; with the director's CPU per 1,000
// requests. Root only; bounded: the default is 1 round of 3 s per case
// (about 1.5 min), --full 3 interleaved rounds of 4 s (about 4 min),
// --quick 1 round of 2 s. --profile adds a perf profile of the director's
// receive threads on the paced direct-routing and NAT runs.
//
//   node bench/dr.js [--quick | --full] [--profile]
//
// The director's CPU is read apart from everything else on the machine:
// every veth runs NAPI in its own kernel thread (GRO on, `threaded` = 1,
// TSO off so that a sender hands packets to its peer's NAPI instead of the
// shared backlog), so all the packet work the master does (netdev ingress,
// routing, conntrack, NAT, transmit) runs in the threads of the master's
// interfaces, whose CPU time /proc/<pid>/schedstat gives to the
// nanosecond, whatever else loads the machine.
//
// Writes docs/bench/dr.md and docs/bench/dr.json.
import { writeFileSync, readFileSync, readdirSync, mkdirSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { check } from './lib/targets.js'
import { netnsBench } from './lib/netns-bench.js'
import { recordThreads, topSymbols, guestIrqShare } from './lib/perf.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const quick = process.argv.includes('--quick')
const full = process.argv.includes('--full')
const profile = process.argv.includes('--profile')
const DURATION = full ? 4 : quick ? 2 : 3
const REPS = full ? 3 : 1
const mode = full ? ' --full' : quick ? ' --quick' : ''
const CONNS = 16
const { dir, made, sh, ip, nsx, spawnIn, addNs, plug } = netnsBench('hdr')

// Topology: one LAN (bridge) with the client, the master and two nodes, as
// direct routing needs; a second client behind the master for the routed
// case (c2 -- 10.79.1.0/24 -- master -- LAN).
const VIP = '10.79.0.100'
const lan = {
  c: '10.79.0.1',
  m: '10.79.0.11',
  n1: '10.79.0.21',
  n2: '10.79.0.22',
}
const br = addNs('br')
ip(br, 'link', 'add', 'br0', 'type', 'bridge')
ip(br, 'link', 'set', 'br0', 'up')
const hosts = {}
for (const [name, addr] of Object.entries(lan)) {
  const ns = addNs(name)
  hosts[name] = ns
  plug(ns, 'eth0', br)
  ip(ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
  ip(ns, 'link', 'set', 'eth0', 'up')
}
const m = hosts.m
ip(m, 'addr', 'add', `${VIP}/24`, 'dev', 'eth0')
nsx(m, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
const c2 = addNs('c2')
sh('ip', [
  'link',
  'add',
  'ec',
  'netns',
  c2,
  'type',
  'veth',
  'peer',
  'name',
  'e2',
  'netns',
  m,
])
ip(c2, 'addr', 'add', '10.79.1.1/24', 'dev', 'ec')
ip(c2, 'link', 'set', 'ec', 'up')
ip(c2, 'route', 'add', 'default', 'via', '10.79.1.254')
ip(m, 'addr', 'add', '10.79.1.254/24', 'dev', 'e2')
ip(m, 'link', 'set', 'e2', 'up')

// NAPI in a kernel thread per veth, for the CPU cases (see the header).
// The threads that appear when the master's interfaces go threaded (last)
// are the director's. Off again (the veth default: GRO off, TSO on) for
// the throughput cases, where packets are handled inline by their sender.
const napiPids = () =>
  new Set(
    readdirSync('/proc')
      .filter(d => /^\d+$/.test(d))
      .filter(d => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('napi/')
        } catch {
          return false
        }
      }),
  )
const vethsOf = ns =>
  JSON.parse(ip(ns, '-j', 'link', 'show', 'type', 'veth') || '[]').map(
    l => l.ifname,
  )
const napiMode = (ns, dev, on) => {
  if (!on) nsx(ns, 'sh', '-c', `echo 0 > /sys/class/net/${dev}/threaded`)
  try {
    nsx(
      ns,
      'ethtool',
      '-K',
      dev,
      'gro',
      on ? 'on' : 'off',
      'tso',
      on ? 'off' : 'on',
    )
  } catch (e) {
    throw new Error(
      `ethtool -K ${dev} failed (apt-get install ethtool): ${e.stderr ?? e.message}`,
    )
  }
  if (on) nsx(ns, 'sh', '-c', `echo 1 > /sys/class/net/${dev}/threaded`)
}
let directorPids = []
let napiOn = false
const setNapi = on => {
  if (on === napiOn) return
  for (const ns of made)
    if (ns !== m) for (const dev of vethsOf(ns)) napiMode(ns, dev, on)
  const others = napiPids()
  for (const dev of vethsOf(m)) napiMode(m, dev, on)
  directorPids = on ? [...napiPids()].filter(p => !others.has(p)) : []
  if (on && directorPids.length < 2)
    throw new Error(
      `expected a NAPI thread for each of the master's 2 interfaces, found ${directorPids.length}`,
    )
  napiOn = on
}
// CPU time of the master's packet work so far, in ns (NAPI threads only).
const directorNs = () =>
  directorPids.reduce(
    (a, p) =>
      a + Number(readFileSync(`/proc/${p}/schedstat`, 'utf8').split(' ')[0]),
    0,
  )

// Nodes: nginx (1 worker) with a 627 B and a 1 MB file; the VIP on lo,
// set up by traffic-client's dr-node helper (arp_ignore, arp_announce).
const www = join(dir, 'www')
mkdirSync(www)
writeFileSync(join(www, 'small.html'), 'x'.repeat(626) + '\n')
writeFileSync(join(www, 'large.bin'), Buffer.alloc(1 << 20, 7))
for (const n of ['n1', 'n2']) {
  ip(hosts[n], 'route', 'add', '10.79.1.0/24', 'via', lan.m)
  nsx(
    hosts[n],
    process.execPath,
    join(ROOT, 'packages/traffic-client/dist/bin.js'),
    'dr-node',
    '--setup',
    VIP,
  )
  const conf = join(dir, `nginx-${n}.conf`)
  writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\npid ${dir}/nginx-${n}.pid;\nerror_log ${dir}/nginx-${n}.err;\nevents { worker_connections 1024; }\nhttp {\n access_log off;\n sendfile on;\n client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n server { listen 80; listen 8080; root ${www}; }\n}\n`,
  )
  spawnIn(hosts[n], 'nginx', ['-c', conf, '-e', `${dir}/nginx-${n}.err`])
}

// Both kernel data planes on the master, through their factories with nft
// aimed at the master namespace: direct routing on VIP:80, NAT on VIP:8080
// (masquerade: the nodes hold the VIP themselves, so SNAT to the VIP would
// send their replies to their own lo).
const { openNftDataPlane } = await import(
  join(ROOT, 'packages/traffic-manager/dist/nft/nft-data-plane.js')
)
const { openDrDataPlane } = await import(
  join(ROOT, 'packages/traffic-manager/dist/nft/dr-data-plane.js')
)
const { execProgram } = await import(
  join(ROOT, 'packages/traffic-manager/dist/nft/kernel-exec.js')
)
const { silentLogger } = await import('@has/daemon-kit')
const exec = (cmd, args, stdin) =>
  execProgram('ip', ['netns', 'exec', m, cmd, ...args], stdin)
const ctx = { logger: silentLogger() }
const nat = await openNftDataPlane(
  { name: `${VIP}:8080`, address: VIP, port: 8080, family: 4 },
  ctx,
  { snat: 'masquerade' },
  { exec },
)
const dr = await openDrDataPlane(
  { name: `${VIP}:80`, address: VIP, port: 80, family: 4 },
  ctx,
  {},
  { exec },
)
const set = (port, w1, w2) => [
  { id: lan.n1, host: lan.n1, port, weight: w1 },
  { id: lan.n2, host: lan.n2, port, weight: w2 },
]

async function ready(ns, url) {
  for (let i = 0; i < 100; i++) {
    try {
      nsx(ns, 'curl', '-s', '-m', '1', '-o', '/dev/null', url)
      return
    } catch {}
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error(`not reachable: ${url}`)
}
const ms = s => {
  const v = /^([\d.]+)(us|ms|s)$/.exec(s ?? '')
  return v ? Number(v[1]) * { us: 0.001, ms: 1, s: 1000 }[v[2]] : NaN
}
// wrk's Lua hook: each connection waits `ms` before its next request, so
// the offered rate is bounded (at most conns x 1000 / ms per second).
const pace = ms => {
  const f = join(dir, `pace-${ms}.lua`)
  writeFileSync(f, `function delay()\n  return ${ms}\nend\n`)
  return f
}
function wrk(ns, url, conns = CONNS, delayMs = 0, perfOut) {
  const d0 = directorNs()
  const rec = perfOut ? recordThreads(directorPids, perfOut) : undefined
  const script = delayMs ? ['-s', pace(delayMs)] : []
  const out = nsx(
    ns,
    'wrk',
    '-t',
    '2',
    '-c',
    String(conns),
    '-d',
    `${DURATION}s`,
    '--latency',
    ...script,
    url,
  )
  const director = directorNs() - d0
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const p99 = /\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '?'
  const transfer = /Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '?'
  const errors =
    /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out)?.[0] ?? ''
  return {
    rps,
    requests,
    p99,
    p99ms: ms(p99),
    transfer,
    errors,
    cpuMsPer1000: requests && napiOn ? (director / 1e6 / requests) * 1000 : NaN,
    rec,
  }
}

const cases = []
for (const [size, path] of [
  ['627 B', '/small.html'],
  ['1 MB', '/large.bin'],
]) {
  cases.push(
    {
      size,
      kind: 'direct',
      name: `direct to n1 (${size})`,
      ns: hosts.c,
      url: `http://${lan.n1}${path}`,
    },
    {
      size,
      kind: 'routed',
      name: `routed through the master to n1, no NAT (${size})`,
      ns: c2,
      url: `http://${lan.n1}${path}`,
    },
    {
      size,
      kind: 'nat',
      name: `NAT plane (nftables), 1 node (${size})`,
      ns: hosts.c,
      url: `http://${VIP}:8080${path}`,
    },
    {
      size,
      kind: 'dr',
      name: `direct routing (nftables-dr), 1 node (${size})`,
      ns: hosts.c,
      url: `http://${VIP}${path}`,
    },
    {
      size,
      kind: 'dr2',
      name: `direct routing (nftables-dr), 2 nodes (${size})`,
      ns: hosts.c,
      url: `http://${VIP}${path}`,
      two: true,
    },
    {
      size,
      kind: 'nat2',
      name: `NAT plane (nftables), 2 nodes (${size})`,
      ns: hosts.c,
      url: `http://${VIP}:8080${path}`,
      two: true,
    },
  )
}
// The targets read the director's CPU per request at a bounded rate (as a
// director runs in production, not saturated); the throughput rows give it
// too, at full load, where batching (GRO, NAPI) makes it smaller.
const CPU_CONNS = 8
const PACE = { '627 B': 1, '1 MB': 20 }
for (const [size, path] of [
  ['627 B', '/small.html'],
  ['1 MB', '/large.bin'],
]) {
  const at = `${size}, ${CPU_CONNS} conns paced ${PACE[size]} ms`
  const full = `${size}, ${CONNS} conns, unpaced`
  cases.push(
    {
      size,
      kind: 'cpu-direct',
      cpu: true,
      pace: true,
      name: `CPU: direct (${at})`,
      ns: hosts.c,
      url: `http://${lan.n1}${path}`,
    },
    {
      size,
      kind: 'cpu-nat',
      cpu: true,
      pace: true,
      name: `CPU: NAT plane (${at})`,
      ns: hosts.c,
      url: `http://${VIP}:8080${path}`,
    },
    {
      size,
      kind: 'cpu-dr',
      cpu: true,
      pace: true,
      name: `CPU: direct routing (${at})`,
      ns: hosts.c,
      url: `http://${VIP}${path}`,
    },
    {
      size,
      kind: 'sat-nat',
      cpu: true,
      name: `CPU: NAT plane (${full})`,
      ns: hosts.c,
      url: `http://${VIP}:8080${path}`,
    },
    {
      size,
      kind: 'sat-dr',
      cpu: true,
      name: `CPU: direct routing (${full})`,
      ns: hosts.c,
      url: `http://${VIP}${path}`,
    },
  )
}
// Packets the plane's own kernel counters saw: NAT both directions,
// direct routing client to node (replies never reach it).
const planePackets = async kind => {
  const plane = /nat$/.test(kind) ? nat : /dr$/.test(kind) ? dr : undefined
  if (!plane) return NaN
  let sum = 0
  for (const c of (await plane.counters()).values()) sum += c.packets ?? 0
  return sum
}
const run = async (cs, perfOut) => {
  setNapi(!!cs.cpu)
  await nat.update(set(80, 1, cs.two ? 1 : 0))
  await dr.update(set(80, 1, cs.two ? 1 : 0))
  await ready(cs.ns, cs.url)
  const p0 = cs.cpu ? await planePackets(cs.kind) : NaN
  const { rec, ...r } = cs.pace
    ? wrk(cs.ns, cs.url, CPU_CONNS, PACE[cs.size], perfOut)
    : wrk(cs.ns, cs.url, CONNS, 0, perfOut)
  await rec?.stop()
  const p1 = cs.cpu ? await planePackets(cs.kind) : NaN
  // ready() above also sent a request or two through the plane: noise.
  return { ...r, packetsPerRequest: r.requests ? (p1 - p0) / r.requests : NaN }
}
const samples = cases.map(() => [])
const loadBefore = loadavg()
for (let rep = 0; rep < REPS; rep++) {
  for (const [i, cs] of cases.entries()) samples[i].push(await run(cs))
}
// Profiles in extra runs: sampling costs CPU in the threads it samples.
const profiles = {}
if (profile) {
  for (const cs of cases.filter(
    c => c.size === '627 B' && (c.kind === 'cpu-dr' || c.kind === 'cpu-nat'),
  )) {
    const f = join(dir, `${cs.kind}.perf`)
    await run(cs, f)
    profiles[cs.name] = topSymbols(f)
  }
}
setNapi(false)
const loadAfter = loadavg()
const results = cases.map((cs, i) => {
  const sorted = [...samples[i]].sort((a, b) => a.rps - b.rps)
  const cpuSorted = samples[i].map(s => s.cpuMsPer1000).sort((a, b) => a - b)
  // Throughput and p99 from the median round by req/s; director CPU is
  // its own median over the rounds.
  const ppr = samples[i].map(s => s.packetsPerRequest).sort((a, b) => a - b)
  const med = {
    ...sorted[Math.floor(sorted.length / 2)],
    cpuMsPer1000: cpuSorted[Math.floor(cpuSorted.length / 2)],
    packetsPerRequest: ppr[Math.floor(ppr.length / 2)],
  }
  console.log(
    `${cs.name}: ${med.rps.toFixed(0)} req/s, p99 ${med.p99}, director ${Number.isFinite(med.cpuMsPer1000) ? med.cpuMsPer1000.toFixed(2) : '-'} CPU ms / 1000 req (rounds: ${samples[i].map(s => s.rps.toFixed(0)).join(', ')})`,
  )
  return {
    name: cs.name,
    size: cs.size,
    kind: cs.kind,
    url: cs.url,
    ...med,
    rounds: samples[i].map(s => s.rps),
    cpuRounds: samples[i].map(s => s.cpuMsPer1000),
  }
})
const drCounters = Object.fromEntries(await dr.counters())
await dr.close()
await nat.close()

// Director CPU without the guest's wake-up tax, from the paced profiles.
const packetWork = (() => {
  const share = kind => {
    const c = cases.find(x => x.size === '627 B' && x.kind === kind)
    return c && profiles[c.name] ? guestIrqShare(profiles[c.name]) : NaN
  }
  const dr = share('cpu-dr')
  const nat = share('cpu-nat')
  return Number.isFinite(dr) && Number.isFinite(nat)
    ? { guestIrqShare: { dr, nat } }
    : undefined
})()
const pick = (size, kind) =>
  results.find(r => r.size === size && r.kind === kind)
const director = (size, kind) => pick(size, kind)?.cpuMsPer1000 ?? NaN
const checks = []
const summary = []
for (const size of ['627 B', '1 MB']) {
  const ratio =
    (pick(size, 'dr')?.rps ?? NaN) / (pick(size, 'direct')?.rps ?? NaN)
  checks.push(
    check(
      `direct routing (1 node) >= 0.97 x direct-to-node throughput, ${size}`,
      ratio,
      0.97,
    ),
  )
  const dDr = director(size, 'cpu-dr')
  const dNat = director(size, 'cpu-nat')
  const cpuRatio = dNat > 0 ? dDr / dNat : NaN
  checks.push(
    check(
      `director CPU per request, direct routing <= 0.3 x NAT plane, ${size}`,
      cpuRatio,
      0.3,
      { atLeast: false },
    ),
  )
  const sDr = director(size, 'sat-dr')
  const sNat = director(size, 'sat-nat')
  summary.push({
    size,
    throughputRatio: ratio,
    directorCpuMsPer1000: {
      dr: dDr,
      nat: dNat,
      drUnpaced: sDr,
      natUnpaced: sNat,
    },
    cpuRatio,
    cpuRatioUnpaced: sNat > 0 ? sDr / sNat : NaN,
  })
}
for (const c of checks) console.log(`${c.target}: ${c.text}`)

const la = l => l.map(x => x.toFixed(1)).join(' / ')
const busy = Math.max(loadBefore[0], loadAfter[0]) > cpus().length
const f2 = x => (Number.isFinite(x) ? x.toFixed(2) : 'n/a')
function packetWorkText() {
  if (!packetWork) return ''
  const { dr: sDr, nat: sNat } = packetWork.guestIrqShare
  if (!(sDr > 0 || sNat > 0)) return ''
  const s627 = summary.find(s => s.size === '627 B')
  const dr = s627.directorCpuMsPer1000.dr * (1 - sDr)
  const nat = s627.directorCpuMsPer1000.nat * (1 - sNat)
  packetWork.msPer1000 = { dr, nat }
  packetWork.ratio = dr / nat
  const pDr = pick('627 B', 'cpu-dr')?.packetsPerRequest ?? NaN
  const pNat = pick('627 B', 'cpu-nat')?.packetsPerRequest ?? NaN
  // ms per 1,000 requests / packets per request = µs per packet.
  const us = (ms, p) => f2(ms / p)
  return `Why the paced 627 B ratio is not lower. Packets through the director per
request, from each plane's kernel counters: ${f2(pDr)} (direct routing, client to
node only) against ${f2(pNat)} (NAT, both ways), ${f2(pDr / pNat)} x: with keep-alive a
small request and its answer are one packet each way plus ACKs, so removing
the replies removes only about half the packets. Per packet the director
spends ${us(s627.directorCpuMsPer1000.dr, pDr)} µs (direct routing) against ${us(s627.directorCpuMsPer1000.nat, pNat)} µs (NAT), nearly the same,
though direct routing's work per packet is much lighter (no routing, no
conntrack, no NAT): ${(sDr * 100).toFixed(1)} % of the
direct-routing samples and ${(sNat * 100).toFixed(1)} % of the NAT samples are *self*
time in the guest's interrupt re-enable hook (\`pvm_irq_enable\`: this machine is a
paravirtualised guest, and re-enabling interrupts after each wake-up of a
receive thread exits to the hypervisor). That is a cost per wake-up, not per
unit of packet work: at this packet rate nearly every packet wakes the
thread, so the lighter plane pays the same tax for less work. Without it the
packet work itself is ${f2(dr)} ms (direct routing) against ${f2(nat)} ms (NAT) per
1,000 requests, ${f2(packetWork.ratio)} x (${us(dr, pDr)} against ${us(nat, pNat)} µs per packet). The
unpaced rows, where a wake-up can serve several packets, gave ${f2(s627.cpuRatioUnpaced)} x
in this run.

`
}
const md = `## Direct routing (traffic-manager \`dataplane nftables-dr\`)

What: HTTP requests per second and p99 through the direct-routing data
plane (the master rewrites the destination MAC of the client's packets at
\`netdev\` ingress; nodes answer the client themselves) against the NAT
plane (\`dataplane nftables\`, DNAT + masquerade), routing through the
master without NAT (a client on a second subnet) and direct access to the
node, all in one run in the same namespaces, for a 627 B page and a 1 MB
file; and the director's CPU per 1,000 requests.
wrk (2 threads, ${CONNS} connections, ${DURATION} s per case, ${REPS} round${REPS > 1 ? 's' : ''}${REPS > 1 ? ' interleaved, median shown' : ''})
in the client namespace; nginx-light (1 worker, sendfile) in two node
namespaces set up by \`traffic-client dr-node --setup\`.

Command: \`node bench/dr.js${mode}${profile ? ' --profile' : ''}\` (root; needs wrk, nginx, ethtool${profile ? ', perf' : ''})

Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.
Load average (1 / 5 / 15 min) ${la(loadBefore)} before and ${la(loadAfter)} after${
  busy
    ? `: more runnable
tasks than the ${cpus().length} cores, from other work on the machine, so throughput
and p99 vary from run to run. The director's CPU per request is read from
its own threads, so other work does not add to it, but it still moves with
the load: a thread that waits longer for a core finds more packets per
wake-up`
    : ''
}.

**Throughput rows** (no \`CPU:\` prefix) use the veth default: each
packet is handled inline by whatever sent it, so no path pays a thread
hop. All namespaces share the same ${cpus().length} cores, so at saturation a path is
slower by whatever CPU its director adds; on separate machines that share
would not limit the node.

**Director CPU** (the \`CPU:\` rows) is the CPU time of the master's packet
work alone: for these rows every veth runs NAPI in its own kernel thread
(\`ethtool -K <dev> gro on tso off\`, \`/sys/class/net/<dev>/threaded\` = 1),
so everything the master does with a packet (netdev ingress and \`fwd\` for
direct routing; routing, conntrack, DNAT, masquerade and transmit for NAT)
runs in the threads of the master's two interfaces, read from
\`/proc/<pid>/schedstat\` (ns) before and after each case. The nodes, the
client and the bridge work in their own threads. The target uses the paced
rows (${CPU_CONNS} connections, each waiting a fixed time between requests: a director
that is not saturated); the unpaced rows show the same at full load, where
NAPI handles several packets per wake-up.

| Path | req/s | p99 | transfer/s | vs direct | director CPU ms / 1000 req | rounds (req/s) | rounds (director CPU ms / 1000 req) |
|---|---:|---:|---:|---:|---:|---|---|
${results.map(r => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p99} | ${r.transfer} | ${(r.rps / (pick(r.size, 'direct')?.rps || 1)).toFixed(2)} | ${Number.isFinite(r.cpuMsPer1000) ? f2(r.cpuMsPer1000) : '-'} | ${r.rounds.map(x => x.toFixed(0)).join(', ')} | ${r.cpuRounds.every(Number.isFinite) ? r.cpuRounds.map(f2).join(', ') : '-'} |`).join('\n')}

Director CPU per 1,000 requests, median of the rounds:

| Response | direct routing | NAT plane | DR / NAT | unpaced: direct routing | NAT plane | DR / NAT |
|---|---:|---:|---:|---:|---:|---:|
${summary.map(s => `| ${s.size} | ${f2(s.directorCpuMsPer1000.dr)} ms | ${f2(s.directorCpuMsPer1000.nat)} ms | ${f2(s.cpuRatio)} | ${f2(s.directorCpuMsPer1000.drUnpaced)} ms | ${f2(s.directorCpuMsPer1000.natUnpaced)} ms | ${f2(s.cpuRatioUnpaced)} |`).join('\n')}

Targets (issue 12):

${checks.map(c => `- ${c.target}: ${c.text}`).join('\n')}
${
  Object.keys(profiles).length
    ? `
Profile of the director's threads in an extra paced run each (\`perf record -e cpu-clock -g -t <napi threads>\`; \`perf report --children\`: share of samples in the function and what it calls, >= 4%):

${Object.entries(profiles)
  .map(([name, lines]) => `${name}:\n\n\`\`\`\n${lines.join('\n')}\n\`\`\``)
  .join('\n\n')}
`
    : ''
}
${packetWorkText()}Kernel counters of the direct-routing table after the run (client to node
only: replies never cross the master): ${Object.entries(drCounters)
  .map(
    ([id, c]) =>
      `${id}: ${c.total} flows, ${c.packets} packets, ${c.bytesIn} bytes in, ${c.bytesOut} bytes out`,
  )
  .join('; ')}.
`
writeFileSync(join(ROOT, 'docs/bench/dr.md'), md)
writeFileSync(
  join(ROOT, 'docs/bench/dr.json'),
  JSON.stringify(
    {
      quick,
      full,
      durationS: DURATION,
      rounds: REPS,
      connections: CONNS,
      loadavg: [loadBefore, loadAfter],
      results,
      summary,
      targets: checks,
      profiles,
      packetWork,
      drCounters,
    },
    null,
    2,
  ) + '\n',
)
console.log('wrote docs/bench/dr.md')
process.exit(0)
