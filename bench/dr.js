// Direct routing (traffic-manager `dataplane nftables-dr`) against the NAT
// plane (`dataplane nftables`), routing through the master without NAT and
// direct access to a node, in one run in the same namespaces, for small
// (627 B) and large (1 MB) responses; with the machine's CPU per 1,000
// requests, from which the director's share is derived (see the notes in
// the written section). Root only; bounded (--quick: 2 s per case, 1 round).
//
//   node bench/dr.js [--quick]
//
// Writes docs/bench/dr.md and docs/bench/dr.json.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { check } from './lib/targets.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const quick = process.argv.includes('--quick')
const DURATION = quick ? 2 : 4
const REPS = quick ? 1 : 3
const CONNS = 16
const P = `hdr${process.pid % 10000}`
const sh = (cmd, args, input) => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
const ip = (ns, ...a) => sh('ip', ['-n', ns, ...a])
const nsx = (ns, cmd, ...a) => sh('ip', ['netns', 'exec', ns, cmd, ...a])
const children = []
const spawnIn = (ns, cmd, args) => {
  const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'ignore' })
  children.push(c)
  return c
}
const made = []
const addNs = name => {
  const ns = `${P}-${name}`
  sh('ip', ['netns', 'add', ns])
  made.push(ns)
  ip(ns, 'link', 'set', 'lo', 'up')
  return ns
}
const dir = mkdtempSync(join(tmpdir(), 'has-bench-dr-'))
function cleanup() {
  for (const c of children) try { c.kill('SIGKILL') } catch {}
  for (const ns of made.reverse()) {
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) try { process.kill(Number(pid), 'SIGKILL') } catch {}
    } catch {}
    try { sh('ip', ['netns', 'del', ns]) } catch {}
  }
  rmSync(dir, { recursive: true, force: true })
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

// Topology: one LAN (bridge) with the client, the master and two nodes, as
// direct routing needs; a second client behind the master for the routed
// case (c2 -- 10.79.1.0/24 -- master -- LAN).
const VIP = '10.79.0.100'
const lan = { c: '10.79.0.1', m: '10.79.0.11', n1: '10.79.0.21', n2: '10.79.0.22' }
const br = addNs('br')
ip(br, 'link', 'add', 'br0', 'type', 'bridge')
ip(br, 'link', 'set', 'br0', 'up')
const hosts = {}
let k = 0
for (const [name, addr] of Object.entries(lan)) {
  const ns = addNs(name)
  hosts[name] = ns
  const peer = `${P}b${k++}`
  sh('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', peer, 'netns', br])
  ip(br, 'link', 'set', peer, 'master', 'br0'); ip(br, 'link', 'set', peer, 'up')
  ip(ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0'); ip(ns, 'link', 'set', 'eth0', 'up')
}
const m = hosts.m
ip(m, 'addr', 'add', `${VIP}/24`, 'dev', 'eth0')
nsx(m, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
const c2 = addNs('c2')
sh('ip', ['link', 'add', 'ec', 'netns', c2, 'type', 'veth', 'peer', 'name', 'e2', 'netns', m])
ip(c2, 'addr', 'add', '10.79.1.1/24', 'dev', 'ec'); ip(c2, 'link', 'set', 'ec', 'up')
ip(c2, 'route', 'add', 'default', 'via', '10.79.1.254')
ip(m, 'addr', 'add', '10.79.1.254/24', 'dev', 'e2'); ip(m, 'link', 'set', 'e2', 'up')

// Nodes: nginx (1 worker) with a 627 B and a 1 MB file; the VIP on lo,
// set up by traffic-client's dr-node helper (arp_ignore, arp_announce).
const www = join(dir, 'www')
mkdirSync(www)
writeFileSync(join(www, 'small.html'), 'x'.repeat(626) + '\n')
writeFileSync(join(www, 'large.bin'), Buffer.alloc(1 << 20, 7))
for (const n of ['n1', 'n2']) {
  ip(hosts[n], 'route', 'add', '10.79.1.0/24', 'via', lan.m)
  nsx(hosts[n], process.execPath, join(ROOT, 'packages/traffic-client/dist/bin.js'), 'dr-node', '--setup', VIP)
  const conf = join(dir, `nginx-${n}.conf`)
  writeFileSync(conf, `worker_processes 1;\ndaemon off;\npid ${dir}/nginx-${n}.pid;\nerror_log ${dir}/nginx-${n}.err;\nevents { worker_connections 1024; }\nhttp {\n access_log off;\n sendfile on;\n client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n server { listen 80; listen 8080; root ${www}; }\n}\n`)
  spawnIn(hosts[n], 'nginx', ['-c', conf, '-e', `${dir}/nginx-${n}.err`])
}

// Both kernel data planes on the master, through their factories with nft
// aimed at the master namespace: direct routing on VIP:80, NAT on VIP:8080
// (masquerade: the nodes hold the VIP themselves, so SNAT to the VIP would
// send their replies to their own lo).
const { openNftDataPlane } = await import(join(ROOT, 'packages/traffic-manager/dist/nft/nft-data-plane.js'))
const { openDrDataPlane } = await import(join(ROOT, 'packages/traffic-manager/dist/nft/dr-data-plane.js'))
const { execProgram } = await import(join(ROOT, 'packages/traffic-manager/dist/nft/kernel-exec.js'))
const { silentLogger } = await import('@has/daemon-kit')
const exec = (cmd, args, stdin) => execProgram('ip', ['netns', 'exec', m, cmd, ...args], stdin)
const ctx = { logger: silentLogger() }
const nat = await openNftDataPlane({ name: `${VIP}:8080`, address: VIP, port: 8080, family: 4 }, ctx, { snat: 'masquerade' }, { exec })
const dr = await openDrDataPlane({ name: `${VIP}:80`, address: VIP, port: 80, family: 4 }, ctx, {}, { exec })
const set = (port, w1, w2) => [
  { id: lan.n1, host: lan.n1, port, weight: w1 },
  { id: lan.n2, host: lan.n2, port, weight: w2 },
]

async function ready(ns, url) {
  for (let i = 0; i < 100; i++) {
    try { nsx(ns, 'curl', '-s', '-m', '1', '-o', '/dev/null', url); return } catch {}
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error(`not reachable: ${url}`)
}
// Busy jiffies of the whole machine (user+nice+system+irq+softirq), in ms.
const busyMs = () => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return (f[0] + f[1] + f[2] + f[5] + f[6]) * 10
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
function wrk(ns, url, conns = CONNS, delayMs = 0) {
  // Paced runs first read the machine's busy time with no traffic for as
  // long, and subtract it: other processes' steady load cancels out.
  let idle = 0
  if (delayMs) {
    const i0 = busyMs()
    sh('sleep', [String(DURATION)])
    idle = busyMs() - i0
  }
  const b0 = busyMs()
  const script = delayMs ? ['-s', pace(delayMs)] : []
  const out = nsx(ns, 'wrk', '-t', '2', '-c', String(conns), '-d', `${DURATION}s`, '--latency', ...script, url)
  const busy = busyMs() - b0 - idle
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const p99 = /\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '?'
  const transfer = /Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '?'
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out)?.[0] ?? ''
  return { rps, requests, p99, p99ms: ms(p99), transfer, errors, cpuMsPer1000: requests ? (busy / requests) * 1000 : NaN }
}

const cases = []
for (const [size, path] of [['627 B', '/small.html'], ['1 MB', '/large.bin']]) {
  cases.push(
    { size, kind: 'direct', name: `direct to n1 (${size})`, ns: hosts.c, url: `http://${lan.n1}${path}` },
    { size, kind: 'routed', name: `routed through the master to n1, no NAT (${size})`, ns: c2, url: `http://${lan.n1}${path}` },
    { size, kind: 'nat', name: `NAT plane (nftables), 1 node (${size})`, ns: hosts.c, url: `http://${VIP}:8080${path}` },
    { size, kind: 'dr', name: `direct routing (nftables-dr), 1 node (${size})`, ns: hosts.c, url: `http://${VIP}${path}` },
    { size, kind: 'dr2', name: `direct routing (nftables-dr), 2 nodes (${size})`, ns: hosts.c, url: `http://${VIP}${path}`, two: true },
    { size, kind: 'nat2', name: `NAT plane (nftables), 2 nodes (${size})`, ns: hosts.c, url: `http://${VIP}:8080${path}`, two: true },
  )
}
// CPU per request is read at a bounded rate: with both cores saturated,
// busy time per request is only 2 cores / throughput, whatever the path.
const CPU_CONNS = 8
const PACE = { '627 B': 1, '1 MB': 20 }
for (const [size, path] of [['627 B', '/small.html'], ['1 MB', '/large.bin']]) {
  const at = `${size}, ${CPU_CONNS} conns paced ${PACE[size]} ms`
  cases.push(
    { size, kind: 'cpu-direct', cpu: true, name: `CPU: direct (${at})`, ns: hosts.c, url: `http://${lan.n1}${path}` },
    { size, kind: 'cpu-nat', cpu: true, name: `CPU: NAT plane (${at})`, ns: hosts.c, url: `http://${VIP}:8080${path}` },
    { size, kind: 'cpu-dr', cpu: true, name: `CPU: direct routing (${at})`, ns: hosts.c, url: `http://${VIP}${path}` },
  )
}
const samples = cases.map(() => [])
const loadBefore = loadavg()[0]
for (let rep = 0; rep < REPS; rep++) {
  for (const [i, cs] of cases.entries()) {
    await nat.update(set(80, 1, cs.two ? 1 : 0))
    await dr.update(set(80, 1, cs.two ? 1 : 0))
    await ready(cs.ns, cs.url)
    samples[i].push(cs.cpu ? wrk(cs.ns, cs.url, CPU_CONNS, PACE[cs.size]) : wrk(cs.ns, cs.url))
  }
}
const loadAfter = loadavg()[0]
const results = cases.map((cs, i) => {
  const sorted = [...samples[i]].sort((a, b) => a.rps - b.rps)
  const med = sorted[Math.floor(sorted.length / 2)]
  console.log(`${cs.name}: ${med.rps.toFixed(0)} req/s, p99 ${med.p99}, ${med.cpuMsPer1000.toFixed(1)} CPU ms / 1000 req (rounds: ${samples[i].map(s => s.rps.toFixed(0)).join(', ')})`)
  return { name: cs.name, size: cs.size, kind: cs.kind, url: cs.url, ...med, rounds: samples[i].map(s => s.rps) }
})
const drCounters = Object.fromEntries(await dr.counters())
await dr.close()
await nat.close()

const pick = (size, kind) => results.find(r => r.size === size && r.kind === kind)
// The director's CPU per 1,000 requests: the machine's busy time per 1,000
// requests on that path minus the same on the direct path (client and node
// work are the same; what is left is the master's).
const director = (size, kind) => {
  const d = pick(size, 'cpu-direct')?.cpuMsPer1000
  const x = pick(size, `cpu-${kind}`)?.cpuMsPer1000
  return Number.isFinite(d) && Number.isFinite(x) ? Math.max(0, x - d) : NaN
}
const checks = []
const summary = []
for (const size of ['627 B', '1 MB']) {
  const ratio = (pick(size, 'dr')?.rps ?? NaN) / (pick(size, 'direct')?.rps ?? NaN)
  checks.push(check(`direct routing (1 node) >= 0.97 x direct-to-node throughput, ${size}`, ratio, 0.97))
  const dDr = director(size, 'dr')
  const dNat = director(size, 'nat')
  const cpuRatio = dNat > 0 ? dDr / dNat : NaN
  checks.push(check(`director CPU per request, direct routing <= 0.3 x NAT plane, ${size}`, cpuRatio, 0.3, { atLeast: false }))
  summary.push({ size, throughputRatio: ratio, directorCpuMsPer1000: { dr: dDr, nat: dNat }, cpuRatio })
}
for (const c of checks) console.log(`${c.target}: ${c.text}`)

const busy = Math.max(loadBefore, loadAfter) > cpus().length
const f1 = x => (Number.isFinite(x) ? x.toFixed(1) : 'n/a')
const md = `## Direct routing (traffic-manager \`dataplane nftables-dr\`)

What: HTTP requests per second and p99 through the direct-routing data
plane (the master rewrites the destination MAC of the client's packets at
\`netdev\` ingress; nodes answer the client themselves) against the NAT
plane (\`dataplane nftables\`, DNAT + masquerade), routing through the
master without NAT (a client on a second subnet) and direct access to the
node, all in one run in the same namespaces, for a 627 B page and a 1 MB
file. Load average (1 min) ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after on ${cpus().length} cores${busy ? ': the machine was busy,\nso single rounds vary; compare within a round' : ''}.
wrk (2 threads, ${CONNS} connections, ${DURATION} s per case, ${REPS} round${REPS > 1 ? 's' : ''} interleaved, median
shown) in the client namespace; nginx-light (1 worker, sendfile) in two
node namespaces set up by \`traffic-client dr-node --setup\`.

Command: \`node bench/dr.js${quick ? ' --quick' : ''}\` (root)

Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${new Date().toISOString().slice(0, 10)}.

| Path | req/s (median) | p99 | transfer/s | vs direct | machine CPU ms / 1000 req | rounds (req/s) |
|---|---:|---:|---:|---:|---:|---|
${results.map(r => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p99} | ${r.transfer} | ${(r.rps / (pick(r.size, 'direct')?.rps || 1)).toFixed(2)} | ${f1(r.cpuMsPer1000)} | ${r.rounds.map(x => x.toFixed(0)).join(', ')} |`).join('\n')}

Director CPU per 1,000 requests: the machine's busy time per 1,000
requests on the path minus the same on the direct path, both at a bounded
rate (${CPU_CONNS} connections, each waiting a fixed time between requests, so the
cores are not saturated: the \`CPU:\` rows above), each less the machine's
busy time in an equally long idle interval just before it.
Every namespace shares one kernel, so the master's packet work cannot be
read apart, only as this difference; other processes on the machine add
noise to both terms.

| Response | direct routing | NAT plane | DR / NAT |
|---|---:|---:|---:|
${summary.map(s => `| ${s.size} | ${f1(s.directorCpuMsPer1000.dr)} ms | ${f1(s.directorCpuMsPer1000.nat)} ms | ${Number.isFinite(s.cpuRatio) ? s.cpuRatio.toFixed(2) : 'n/a'} |`).join('\n')}

Targets (issue 12):

${checks.map(c => `- ${c.target}: ${c.text}`).join('\n')}

Kernel counters of the direct-routing table after the run (client to node
only: replies never cross the master): ${Object.entries(drCounters).map(([id, c]) => `${id}: ${c.total} flows, ${c.packets} packets, ${c.bytesIn} bytes in, ${c.bytesOut} bytes out`).join('; ')}.
`
writeFileSync(join(ROOT, 'docs/bench/dr.md'), md)
writeFileSync(join(ROOT, 'docs/bench/dr.json'), JSON.stringify({ quick, durationS: DURATION, rounds: REPS, connections: CONNS, loadavg: [loadBefore, loadAfter], results, summary, targets: checks, drCounters }, null, 2) + '\n')
console.log('wrote docs/bench/dr.md')
process.exit(0)
