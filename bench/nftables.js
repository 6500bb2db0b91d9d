// Throughput of traffic-manager's nftables data plane against direct access
// to a node, plain routing through the master (no NAT) and HAProxy on the
// master, in the same namespaces and run. wrk in the client namespace,
// nginx in each node namespace. Root only; bounded (--quick: 2 s per case).
//
//   node bench/nftables.js [--quick]
//
// Writes docs/bench/nftables.md and docs/bench/nftables.json.
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsBench } from './lib/netns-bench.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const quick = process.argv.includes('--quick')
const DURATION = quick ? 2 : 5
const CONNS = 32
const { dir, sh, ip, nsx, spawnIn, addNs, plug } = netnsBench('hnb')

// Topology: client --(10.78.1.0/24)-- master --(10.78.0.0/24 bridge)-- n1, n2, lanclient
const br = addNs('br')
ip(br, 'link', 'add', 'br0', 'type', 'bridge')
ip(br, 'link', 'set', 'br0', 'up')
const c = addNs('c')
const m = addNs('m')
sh('ip', [
  'link',
  'add',
  'ec',
  'netns',
  c,
  'type',
  'veth',
  'peer',
  'name',
  'emc',
  'netns',
  m,
])
ip(c, 'addr', 'add', '10.78.1.1/24', 'dev', 'ec')
ip(c, 'link', 'set', 'ec', 'up')
ip(c, 'route', 'add', 'default', 'via', '10.78.1.254')
ip(m, 'addr', 'add', '10.78.1.254/24', 'dev', 'emc')
ip(m, 'addr', 'add', '10.78.1.100/32', 'dev', 'emc')
ip(m, 'link', 'set', 'emc', 'up')
nsx(m, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
const lan = {
  m: '10.78.0.11',
  n1: '10.78.0.21',
  n2: '10.78.0.22',
  l: '10.78.0.2',
}
const hosts = { m }
for (const [name, addr] of Object.entries(lan)) {
  const ns = name === 'm' ? m : addNs(name)
  hosts[name] = ns
  const ifn = `e${name}`
  plug(ns, ifn, br)
  ip(ns, 'addr', 'add', `${addr}/24`, 'dev', ifn)
  ip(ns, 'link', 'set', ifn, 'up')
  if (name === 'n1' || name === 'n2')
    ip(ns, 'route', 'add', 'default', 'via', lan.m)
}

// nginx in each node.
for (const n of ['n1', 'n2']) {
  const conf = join(dir, `nginx-${n}.conf`)
  writeFileSync(
    conf,
    `worker_processes 1;\ndaemon off;\npid ${dir}/nginx-${n}.pid;\nerror_log ${dir}/nginx-${n}.err;\nevents { worker_connections 1024; }\nhttp {\n access_log off;\n client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};\n server { listen 80; location / { return 200 "hello from ${n}\\n"; } }\n}\n`,
  )
  spawnIn(hosts[n], 'nginx', ['-c', conf, '-e', `${dir}/nginx-${n}.err`])
}
// HAProxy on the master, port 8081.
const hcfg = join(dir, 'haproxy.cfg')
writeFileSync(
  hcfg,
  `global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\nfrontend f\n  bind 10.78.1.100:8081\n  default_backend b\nbackend b\n  balance roundrobin\n  server n1 ${lan.n1}:80\n  server n2 ${lan.n2}:80\n`,
)
spawnIn(m, 'haproxy', ['-f', hcfg, '-db'])

// traffic-manager's userspace proxy on the master, port 8082 (1 worker).
const tmConf = join(dir, 'tmd.conf')
writeFileSync(
  tmConf,
  [
    `traffic1 ${lan.n1}`,
    `traffic2 ${lan.n2}`,
    'port 7070',
    'listen 127.0.0.1',
    'timeout 600000',
    'workers 1',
    'virtual 10.78.1.100:8082',
    '    scheduler p2c',
    '    dataplane proxy',
    `    node ${lan.n1}:80`,
    `    node ${lan.n2}:80`,
    '',
  ].join('\n'),
)
spawnIn(m, process.execPath, [
  join(ROOT, 'packages/traffic-manager/dist/bin.js'),
  '-c',
  tmConf,
  '--control',
  join(dir, 'tm.sock'),
  '--log-level',
  'warn',
])
// Load reports make both nodes eligible; sent from inside the master namespace.
const reportScript = `import { createSocket } from 'node:dgram'
import { formatReport } from '${join(ROOT, 'packages/traffic-manager/dist/report-protocol.js')}'
const s = createSocket('udp4'); const epoch = Date.now(); let seq = 0
const nodes = ${JSON.stringify([lan.n1, lan.n2])}
const tick = () => nodes.forEach(node => s.send(formatReport({ node, load: 1000, state: 'up', sender: 'bench', epoch, seq: ++seq }), 7070, '127.0.0.1'))
tick(); setInterval(tick, 500)`
writeFileSync(join(dir, 'reports.mjs'), reportScript)
spawnIn(m, process.execPath, [join(dir, 'reports.mjs')])

// The nftables data plane, driven through its factory with nft aimed at the master namespace.
const { openNftDataPlane } = await import(
  join(ROOT, 'packages/traffic-manager/dist/nft/nft-data-plane.js')
)
const { execProgram } = await import(
  join(ROOT, 'packages/traffic-manager/dist/nft/kernel-exec.js')
)
const { silentLogger } = await import('@has/daemon-kit')
const exec = (cmd, args, stdin) =>
  execProgram('ip', ['netns', 'exec', m, cmd, ...args], stdin)
const dp = await openNftDataPlane(
  { name: '10.78.1.100:80', address: '10.78.1.100', port: 80, family: 4 },
  { logger: silentLogger() },
  {},
  { exec },
)
await dp.update([
  { id: lan.n1, host: lan.n1, port: 80, weight: 1 },
  { id: lan.n2, host: lan.n2, port: 80, weight: 1 },
])

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
function wrk(ns, url) {
  const out = nsx(
    ns,
    'wrk',
    '-t',
    '2',
    '-c',
    String(CONNS),
    '-d',
    `${DURATION}s`,
    '--latency',
    url,
  )
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0)
  const p50 = /\n\s+50%\s+(\S+)/.exec(out)?.[1] ?? '?'
  const p99 = /\n\s+99%\s+(\S+)/.exec(out)?.[1] ?? '?'
  const errors =
    /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out)?.[0] ?? ''
  return { rps, p50, p99, errors }
}

const one = [
  { id: lan.n1, host: lan.n1, port: 80, weight: 1 },
  { id: lan.n2, host: lan.n2, port: 80, weight: 0 },
]
const two = [
  { id: lan.n1, host: lan.n1, port: 80, weight: 1 },
  { id: lan.n2, host: lan.n2, port: 80, weight: 1 },
]
const cases = [
  {
    name: 'direct to node n1 (same LAN, reference)',
    ns: hosts.l,
    url: `http://${lan.n1}/`,
  },
  {
    name: 'routed through the master to n1, no NAT',
    ns: c,
    url: `http://${lan.n1}/`,
  },
  {
    name: 'nftables data plane, 1 node (n2 weight 0)',
    ns: c,
    url: 'http://10.78.1.100/',
    backends: one,
  },
  {
    name: 'nftables data plane, 2 nodes',
    ns: c,
    url: 'http://10.78.1.100/',
    backends: two,
  },
  {
    name: 'HAProxy on the master, 2 nodes',
    ns: c,
    url: 'http://10.78.1.100:8081/',
  },
  {
    name: 'traffic-manager userspace proxy (1 worker), 2 nodes',
    ns: c,
    url: 'http://10.78.1.100:8082/',
  },
]
// Cases interleaved over REPS rounds; the median round counts (the machine is shared).
const REPS = 3
const samples = cases.map(() => [])
const loadBefore = loadavg()[0]
for (let rep = 0; rep < REPS; rep++) {
  for (const [i, cs] of cases.entries()) {
    if (cs.backends) await dp.update(cs.backends)
    await ready(cs.ns, cs.url)
    samples[i].push(wrk(cs.ns, cs.url))
  }
}
const results = cases.map((cs, i) => {
  const sorted = [...samples[i]].sort((a, b) => a.rps - b.rps)
  const med = sorted[Math.floor(sorted.length / 2)]
  console.log(
    `${cs.name}: ${med.rps.toFixed(0)} req/s p50 ${med.p50} p99 ${med.p99} (rounds: ${samples[i].map(s => s.rps.toFixed(0)).join(', ')})`,
  )
  return {
    name: cs.name,
    url: cs.url,
    ...med,
    rounds: samples[i].map(s => s.rps),
  }
})
const counters = Object.fromEntries(await dp.counters())
await dp.close()

const ref = results[0].rps || 1
// The target for the kernel data plane is the same path routed without NAT:
// the cost of DNAT/SNAT, not of the extra hop (direct skips the master).
const routed = results[1].rps || 1
const loadAfter = loadavg()[0]
const busy = Math.max(loadBefore, loadAfter) > cpus().length
const md = `## nftables data plane (traffic-manager \`dataplane nftables\`)

What: HTTP requests per second through the kernel data plane against the
same nginx reached directly, routed through the master without NAT,
through HAProxy and through traffic-manager's userspace proxy on the
master, all in one run in the same namespaces. Load average (1 min)
${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after on ${cpus().length} cores${busy ? ': the machine was\nbusy, so single rounds vary a lot; compare within a round' : ''}.
wrk (2 threads, ${CONNS} connections, ${DURATION} s per case, ${REPS}
rounds interleaved, median shown) in a client
namespace; nginx-light (1 worker, \`return 200\`) in two node namespaces.
HAProxy runs \`mode http\` with one thread; traffic-manager's userspace
proxy runs with one worker (scheduler p2c, nodes made eligible by load
reports sent every 500 ms).

Command: \`node bench/nftables.js${quick ? ' --quick' : ''}\` (root)

Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${new Date().toISOString().slice(0, 10)}.

| Path | req/s (median) | p50 | p99 | vs direct | vs routed | rounds (req/s) |
|---|---:|---:|---:|---:|---:|---|
${results.map(r => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${(r.rps / ref).toFixed(2)} | ${(r.rps / routed).toFixed(2)} | ${r.rounds.map(x => x.toFixed(0)).join(', ')} |`).join('\n')}

"vs routed" is the figure for the data plane's own cost: the same client
to node path through the master, with and without the NAT table (the
1-node nftables line is the like-for-like one; 2 nodes also doubles the
nginx capacity behind it).

Per-backend kernel counters after the run (connections counted in the NAT
chain): ${Object.entries(counters)
  .map(([id, c]) => `${id}: ${c.total} connections`)
  .join(', ')}.
`
writeFileSync(join(ROOT, 'docs/bench/nftables.md'), md)
writeFileSync(
  join(ROOT, 'docs/bench/nftables.json'),
  JSON.stringify(
    {
      quick,
      durationS: DURATION,
      loadavg: [loadBefore, loadAfter],
      connections: CONNS,
      rounds: REPS,
      results,
      counters,
    },
    null,
    2,
  ) + '\n',
)
console.log('wrote docs/bench/nftables.md')
process.exit(0)
