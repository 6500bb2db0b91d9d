// N active masters behind BGP ECMP (issue 13), in namespaces (root only):
// a router running BIRD with ECMP, three masters (BIRD with BFD +
// traffic-manager `dataplane nftables-dr` + vip-announcer), four nginx
// nodes with traffic-client, one client. Measures
//   1. each master's CPU per 1,000 requests with 1, 2 and 3 masters
//      announcing and the same load (wrk, one connection per request, so
//      ECMP spreads requests): the per-master share should fall as 1/N;
//   2. over --runs crashes of one master (its link down, then kill -9 of
//      BIRD, traffic-manager and vip-announcer): time to the router's
//      route withdrawal, and time until new connections succeed again
//      (the last failed one of a probe opening one every 10 ms).
//
//   node bench/bgp.js [--quick] [--runs 20] [--seconds 5] [--profile]
// Writes docs/bench/bgp.md and docs/bench/bgp.json.
//
// A master's packet work runs in the kernel: every veth is switched to
// threaded NAPI (GRO on, TSO off, as bench/dr.js does), so the master's
// forwarding CPU is its eth0 NAPI thread's time in /proc/<pid>/schedstat.
// Each master's idle NAPI time over an equal spell before the load (BFD,
// BGP, ARP) is subtracted. The daemons' own CPU (traffic-manager, BIRD,
// vip-announcer) is not counted: it does not depend on the load.
import {
  chmodSync,
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
} from 'node:fs'
import { loadavg, cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { netnsBench } from './lib/netns-bench.js'
import { median } from './lib/procs.js'
import { check, verdict } from './lib/targets.js'
import { recordThreads, topSymbols, guestIrqShare } from './lib/perf.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const arg = (name, def) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : def
}
// --quick (npm run bench -- --quick): a smoke run, not figures to publish.
const QUICK = process.argv.includes('--quick')
const RUNS = arg('--runs', QUICK ? 3 : 20)
const SECONDS = arg('--seconds', QUICK ? 2 : 5)
// --profile: an extra load run per master count under perf, for the share
// of the masters' NAPI time that is the guest's per-wake-up exit.
const PROFILE = process.argv.includes('--profile')
if (process.getuid?.() !== 0) {
  console.error('bench/bgp.js needs root (network namespaces)')
  process.exit(1)
}
const { dir, sh, ip, nsx, spawnIn: spawnNs, addNs, plug } = netnsBench('hbg')
const sleep = ms => new Promise(r => setTimeout(r, ms))
const spawnIn = (ns, cmd, args) => spawnNs(ns, cmd, args, { output: true })
// nginx's workers run as www-data: they must read the pages under it.
chmodSync(dir, 0o755)
async function until(what, pred, ms = 30_000) {
  for (let i = 0; i < ms / 10; i++) {
    if (await pred()) return
    await sleep(10)
  }
  throw new Error(`not within ${ms} ms: ${what}`)
}

// Topology (the same as test/bgp/ecmp.ts).
const VIP = '10.9.0.100'
const ROUTER = '10.9.2.1'
const CLIENT = '10.9.1.2'
const MASTERS = { m1: '10.9.2.11', m2: '10.9.2.12', m3: '10.9.2.13' }
const NODES = {
  n1: '10.9.2.21',
  n2: '10.9.2.22',
  n3: '10.9.2.23',
  n4: '10.9.2.24',
}
const KEY = 'bench-bgp-shared-report-key-01'
const br = addNs('br')
ip(br, 'link', 'add', 'br0', 'type', 'bridge')
ip(br, 'link', 'set', 'br0', 'up')
const ns = {}
for (const [name, addr] of Object.entries({
  rt: ROUTER,
  ...MASTERS,
  ...NODES,
})) {
  ns[name] = addNs(name)
  plug(ns[name], 'eth0', br)
  ip(ns[name], 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
  ip(ns[name], 'link', 'set', 'eth0', 'up')
  // The bridge floods frames for a dead master's MAC to every port, as a
  // switch does; the other masters drop them (nftables-dr forwards only
  // frames for its own MAC).
}
ns.cl = addNs('cl')
sh('ip', [
  'link',
  'add',
  'eth0',
  'netns',
  ns.cl,
  'type',
  'veth',
  'peer',
  'name',
  'eth1',
  'netns',
  ns.rt,
])
ip(ns.cl, 'addr', 'add', `${CLIENT}/24`, 'dev', 'eth0')
ip(ns.cl, 'link', 'set', 'eth0', 'up')
ip(ns.rt, 'addr', 'add', '10.9.1.1/24', 'dev', 'eth1')
ip(ns.rt, 'link', 'set', 'eth1', 'up')
ip(ns.cl, 'route', 'add', 'default', 'via', '10.9.1.1')
nsx(ns.rt, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
nsx(ns.rt, 'sysctl', '-qw', 'net.ipv4.fib_multipath_hash_policy=1')

// Threaded NAPI on every veth before anything runs (switching it later
// disturbs BFD); the masters' eth0 last, to know their threads.
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
const napi = (n, dev, on) => {
  nsx(
    n,
    'ethtool',
    '-K',
    dev,
    'gro',
    on ? 'on' : 'off',
    'tso',
    on ? 'off' : 'on',
  )
  nsx(n, 'sh', '-c', `echo ${on ? 1 : 0} > /sys/class/net/${dev}/threaded`)
}
for (const n of [ns.rt, ns.cl, ...Object.keys(NODES).map(x => ns[x])])
  for (const dev of n === ns.rt ? ['eth0', 'eth1'] : ['eth0'])
    napi(n, dev, true)
for (const dev of sh('ip', ['-n', br, '-j', 'link', 'show', 'type', 'veth'])
  ? JSON.parse(ip(br, '-j', 'link', 'show', 'type', 'veth')).map(l => l.ifname)
  : [])
  napi(br, dev, true)
const masterNapi = {}
for (const m of Object.keys(MASTERS)) {
  const before = napiPids()
  napi(ns[m], 'eth0', true)
  masterNapi[m] = [...napiPids()].filter(p => !before.has(p))
  if (masterNapi[m].length !== 1)
    throw new Error(
      `${m}: expected one NAPI thread for eth0, found ${masterNapi[m].length}`,
    )
}
// schedstat: ns on CPU, ns waiting, times run (each a wake-up of the thread).
const schedstat = (m, field) =>
  masterNapi[m].reduce(
    (a, p) =>
      a +
      Number(readFileSync(`/proc/${p}/schedstat`, 'utf8').split(' ')[field]),
    0,
  )
const napiNs = m => schedstat(m, 0)
const napiRuns = m => schedstat(m, 2)
const BFD = 'min rx interval 100 ms; min tx interval 100 ms; multiplier 3;'
const BGP =
  'bfd on; graceful restart off; hold time 9; connect retry time 1; error wait time 1, 5;'
const bird = (where, conf) => {
  const d = join(dir, where)
  mkdirSync(d, { recursive: true })
  writeFileSync(join(d, 'bird.conf'), conf)
  return spawnIn(ns[where], 'bird', [
    '-f',
    '-c',
    join(d, 'bird.conf'),
    '-s',
    join(d, 'bird.ctl'),
    '-P',
    join(d, 'bird.pid'),
  ])
}
bird(
  'rt',
  [
    `router id ${ROUTER};`,
    'protocol device {}',
    `protocol bfd { interface "eth0" { ${BFD} }; }`,
    'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
    `template bgp master { local ${ROUTER} as 65000; ${BGP} ipv4 { import all; export none; }; }`,
    ...Object.entries(MASTERS).map(
      ([m, a]) => `protocol bgp ${m} from master { neighbor ${a} as 65010; }`,
    ),
    '',
  ].join('\n'),
)

// Nodes: nginx (1 worker, a 627 B page), VIP on lo, traffic-client.
const { writeProcfsFixture } = await import(
  join(ROOT, 'packages/traffic-client/dist/index.js')
)
const www = join(dir, 'www')
mkdirSync(www)
writeFileSync(join(www, 'small.html'), 'x'.repeat(626) + '\n')
for (const [n, a] of Object.entries(NODES)) {
  ip(ns[n], 'route', 'add', 'default', 'via', ROUTER)
  nsx(
    ns[n],
    process.execPath,
    join(ROOT, 'packages/traffic-client/dist/bin.js'),
    'dr-node',
    '--setup',
    VIP,
  )
  const d = join(dir, n)
  mkdirSync(d)
  writeFileSync(
    join(d, 'nginx.conf'),
    `worker_processes 1;\ndaemon off;\npid ${d}/nginx.pid;\nerror_log ${d}/nginx.err;\nevents { worker_connections 4096; }\nhttp {\n access_log off;\n client_body_temp_path ${d}; proxy_temp_path ${d}; fastcgi_temp_path ${d}; uwsgi_temp_path ${d}; scgi_temp_path ${d};\n server { listen 80; root ${www}; }\n}\n`,
  )
  spawnIn(ns[n], 'nginx', ['-c', join(d, 'nginx.conf'), '-e', `${d}/nginx.err`])
  writeProcfsFixture(join(d, 'proc'), {
    bogomips: 4000,
    cpus: 2,
    memTotalMB: 4096,
    memFreeMB: 3000,
    idleShare: 0.9,
  })
  writeFileSync(
    join(d, 'tcd.conf'),
    [
      ...Object.values(MASTERS).map((x, i) => `master${i + 1} ${x}`),
      'port 7070',
      'updates 200',
      `key ${KEY}`,
      `node ${a}`,
      '',
    ].join('\n'),
  )
  spawnIn(ns[n], process.execPath, [
    join(ROOT, 'packages/traffic-client/dist/bin.js'),
    '--config',
    join(d, 'tcd.conf'),
    '--procfs',
    join(d, 'proc'),
    '--control',
    join(d, 'tc.sock'),
  ])
}
writeFileSync(
  join(dir, 'tmd.conf'),
  [
    ...Object.values(MASTERS).map((a, i) => `master${i + 1} ${a}`),
    ...Object.values(NODES).map((a, i) => `traffic${i + 1} ${a}`),
    'port 7070',
    'listen 0.0.0.0',
    'timeout 1000',
    `key ${KEY}`,
    'shutdown-deadline 1s',
    `virtual ${VIP}:80`,
    '    dataplane nftables-dr',
    ...Object.values(NODES).map(a => `    node ${a}:80`),
    '',
  ].join('\n'),
)

const procs = {}
function startMaster(m) {
  const d = join(dir, m)
  mkdirSync(d, { recursive: true })
  const b = bird(
    m,
    [
      `router id ${MASTERS[m]};`,
      'protocol device {}',
      `protocol bfd { interface "eth0" { ${BFD} }; }`,
      `protocol static vip4 { disabled; ipv4; route ${VIP}/32 blackhole; }`,
      `protocol bgp uplink { local ${MASTERS[m]} as 65010; neighbor ${ROUTER} as 65000; ${BGP} ipv4 { import none; export where proto = "vip4"; next hop self; }; }`,
      '',
    ].join('\n'),
  )
  const tm = spawnIn(ns[m], process.execPath, [
    join(ROOT, 'packages/traffic-manager/dist/bin.js'),
    '--config',
    join(dir, 'tmd.conf'),
    '--control',
    join(d, 'tm.sock'),
  ])
  writeFileSync(
    join(d, 'va.conf'),
    [
      `bird-socket ${join(d, 'bird.ctl')}`,
      'protocol vip4',
      `traffic-manager ${join(d, 'tm.sock')}`,
      `service ${VIP}:80`,
      'check-interval 25ms',
      'check-timeout 3s',
      'settle 1s',
      'drain 500ms',
      '',
    ].join('\n'),
  )
  const va = spawnIn(ns[m], process.execPath, [
    join(ROOT, 'packages/vip-announcer/dist/bin.js'),
    '--config',
    join(d, 'va.conf'),
    '--control',
    join(d, 'va.sock'),
  ])
  procs[m] = { bird: b, tm, va }
}
// Every change of the router's routes, timestamped on arrival: one
// long-lived `ip monitor` instead of a process start per poll, so the
// withdrawal time is not the poll's.
const routeEvents = []
{
  const mon = spawnNs(ns.rt, 'ip', ['monitor', 'route'], { output: true })
  mon.stdout.on('data', d => {
    if (String(d).includes(VIP)) routeEvents.push(Date.now())
  })
}
const hops = () => {
  const routes = JSON.parse(
    ip(ns.rt, '-j', 'route', 'show', `${VIP}/32`) || '[]',
  )
  return routes
    .flatMap(r =>
      r.nexthops
        ? r.nexthops.map(h => h.gateway)
        : r.gateway
          ? [r.gateway]
          : [],
    )
    .sort()
    .join(',')
}
const want = list =>
  list
    .map(m => MASTERS[m])
    .sort()
    .join(',')
const va = (m, cmd) =>
  sh('ip', [
    'netns',
    'exec',
    ns[m],
    process.execPath,
    join(ROOT, 'packages/vip-announcer/dist/bin.js'),
    cmd,
    '--control',
    join(dir, m, 'va.sock'),
    '--json',
  ])

for (const m of Object.keys(MASTERS)) startMaster(m)
await until(
  'all three masters announced',
  async () => hops() === want(['m1', 'm2', 'm3']),
  120_000,
)
console.error('bgp: three masters announced')

// 1. CPU per 1,000 requests per master, 1..3 masters announcing.
const WRK = [
  '-t',
  '2',
  '-c',
  '32',
  '-d',
  `${SECONDS}s`,
  '-H',
  'Connection: close',
  `http://${VIP}/small.html`,
]
const cpuRows = []
for (const active of [['m1'], ['m1', 'm2'], ['m1', 'm2', 'm3']]) {
  for (const m of Object.keys(MASTERS))
    va(m, active.includes(m) ? 'resume' : 'drain')
  await until(
    `router via ${active.join(' ')}`,
    async () => hops() === want(active),
    30_000,
  )
  // Idle cost over the same time (BFD, BGP, ARP), subtracted below.
  const idle0 = Object.fromEntries(
    Object.keys(MASTERS).map(m => [m, [napiNs(m), napiRuns(m)]]),
  )
  await sleep(SECONDS * 1000)
  const idle = Object.fromEntries(
    Object.keys(MASTERS).map(m => [m, napiNs(m) - idle0[m][0]]),
  )
  const idleRuns = Object.fromEntries(
    Object.keys(MASTERS).map(m => [m, napiRuns(m) - idle0[m][1]]),
  )
  // A BFD session starved on this loaded machine can flap: load only a steady set.
  await until(
    `router via ${active.join(' ')} before the load`,
    async () => hops() === want(active),
    30_000,
  )
  const before = Object.fromEntries(
    Object.keys(MASTERS).map(m => [m, napiNs(m)]),
  )
  const runsBefore = Object.fromEntries(
    Object.keys(MASTERS).map(m => [m, napiRuns(m)]),
  )
  const out = nsx(ns.cl, 'wrk', ...WRK)
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const errors = /Socket errors: .*|Non-2xx.*/.exec(out)?.[0] ?? ''
  const per = Object.fromEntries(
    Object.keys(MASTERS).map(m => [
      m,
      (Math.max(0, napiNs(m) - before[m] - idle[m]) / 1e6 / requests) * 1000,
    ]),
  )
  // Wake-ups of each master's NAPI thread per 1,000 requests, and CPU per
  // wake-up: a master with fewer packets handles fewer per wake-up, and on
  // this paravirtualised guest every wake-up pays a fixed exit.
  const wakeups = Object.fromEntries(
    Object.keys(MASTERS).map(m => [
      m,
      (Math.max(0, napiRuns(m) - runsBefore[m] - idleRuns[m]) / requests) *
        1000,
    ]),
  )
  // Profile in an extra run (sampling costs CPU in the threads it samples).
  let guest = NaN
  let top = []
  if (PROFILE) {
    const f = join(dir, `masters-${active.length}.perf`)
    const rec = recordThreads(
      active.flatMap(m => masterNapi[m]),
      f,
    )
    nsx(ns.cl, 'wrk', ...WRK)
    await rec.stop()
    top = topSymbols(f)
    guest = guestIrqShare(top)
  }
  cpuRows.push({
    guest,
    top,
    wakeups,
    masters: active.length,
    requests,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    per,
    errors,
  })
  console.error(
    `bgp: ${active.length} master(s): ${requests} requests, ms per 1,000: ${Object.entries(
      per,
    )
      .map(
        ([m, v]) => `${m} ${v.toFixed(2)} (${wakeups[m].toFixed(0)} wake-ups)`,
      )
      .join(', ')} ${errors}`,
  )
}
for (const m of Object.keys(MASTERS)) va(m, 'resume')
await until(
  'all three again',
  async () => hops() === want(['m1', 'm2', 'm3']),
  30_000,
)

// 2. Crash → withdrawal, crash → new connections succeed again. The probe
// (test/bgp/fixtures/probe.mjs) opens a new connection every 10 ms from the
// client, each with 100 ms to answer. Which master a new connection meets
// is the router's ECMP choice; in this lab the router hashes the client
// socket's own flow hash (a veth keeps it; Linux's multipath hash uses an
// L4 hash already on the packet), so the choice is per connection and no
// fixed source port can be predicted to go to the victim. Until the
// withdrawal about a third of new connections fail; the last failure is
// when they stop.
const PROBE = join(ROOT, 'test', 'bgp', 'fixtures', 'probe.mjs')
const runs = []
for (let run = 1; run <= RUNS; run++) {
  const victim = 'm3'
  const probe = spawnIn(ns.cl, process.execPath, [
    PROBE,
    VIP,
    '80',
    '3000',
    '100',
    '/small.html',
  ])
  await until(
    'probe started',
    async () => probe.output.includes('started'),
    20_000,
  )
  const probeAt = Date.now()
  await sleep(500)
  // The crash: the link first (gone for the router), then every process.
  const t0 = Date.now()
  ip(ns[victim], 'link', 'set', 'eth0', 'down')
  for (const p of Object.values(procs[victim])) p.kill('SIGKILL')
  await until(
    'route withdrawn',
    async () => !hops().includes(MASTERS[victim]),
    10_000,
  )
  const seenAt = Date.now()
  // The change that removed the victim is the last one before the poll saw it gone.
  const change = routeEvents.filter(x => x >= t0 && x <= seenAt).at(-1)
  const withdrawMs = (change ?? seenAt) - t0
  await until('probe done', async () => probe.output.includes('"done"'), 20_000)
  const done = JSON.parse(
    probe.output.split('\n').find(l => l.includes('"done"')),
  )
  const after = done.failures.map(x => x + probeAt - t0).filter(x => x >= 0)
  const before = done.failures.length - after.length
  const lastFailMs = after.length ? Math.max(...after) : 0
  runs.push({
    run,
    withdrawMs,
    lastFailMs,
    failed: after.length,
    failedBefore: before,
    attempts: done.attempts,
  })
  console.error(
    `bgp: run ${run}: withdrawal ${withdrawMs} ms, last failed new connection ${lastFailMs} ms (${after.length} of ${done.attempts} attempts failed after the crash, ${before} before it)`,
  )
  ip(ns[victim], 'link', 'set', 'eth0', 'up')
  startMaster(victim)
  await until(
    'victim back',
    async () => hops() === want(['m1', 'm2', 'm3']),
    60_000,
  )
  await sleep(500)
}

const activeOf = r => Object.keys(MASTERS).slice(0, r.masters)
const meanPer = r => activeOf(r).reduce((a, m) => a + r.per[m], 0) / r.masters
const stat = xs => ({ median: median(xs), max: Math.max(...xs) })
const w = stat(runs.map(r => r.withdrawMs))
const l = stat(runs.map(r => r.lastFailMs))
const failedBefore = runs.reduce((a, r) => a + r.failedBefore, 0)
const shares = cpuRows.map(r => meanPer(r) / meanPer(cpuRows[0]))
const checks = [
  ...cpuRows
    .slice(1)
    .map((r, i) =>
      check(
        `each of ${r.masters} masters' CPU per request <= 1.1 x 1/${r.masters} of one master's`,
        shares[i + 1],
        1.1 / r.masters,
        { atLeast: false },
      ),
    ),
  check(
    `crash to the router's route withdrawal, median of ${RUNS}, < 1 s (BFD)`,
    w.median,
    1000,
    { atLeast: false, unit: ' ms', digits: 0 },
  ),
]
const md = [
  '## N active masters behind BGP ECMP (`bench/bgp.js`)',
  '',
  ...checks.map(c => `- ${c.target}: ${verdict(c)}`),
  '',
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
    .map(x => x.toFixed(1))
    .join(' ')} at the end (shared machine).`,
  '',
  `Command: \`node bench/bgp.js --runs ${RUNS} --seconds ${SECONDS}${PROFILE ? ' --profile' : ''}\`; load \`wrk ${WRK.join(' ')}\` from the client namespace.`,
  '',
  "| masters announcing | requests | req/s | m1 ms CPU / 1,000 req | m2 | m3 | share of one master's (1/N wanted) | NAPI wake-ups / 1,000 req (m1, m2, m3) | µs per wake-up (m1, m2, m3) |",
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...cpuRows.map(r => {
    const ms = activeOf(r)
    const us = m =>
      r.wakeups[m] > 0 ? ((r.per[m] / r.wakeups[m]) * 1000).toFixed(1) : '-'
    return `| ${r.masters} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.per.m1.toFixed(2)} | ${r.per.m2.toFixed(2)} | ${r.per.m3.toFixed(2)} | ${(meanPer(r) / meanPer(cpuRows[0])).toFixed(2)} (${(1 / r.masters).toFixed(2)}) | ${ms.map(m => r.wakeups[m].toFixed(0)).join(', ')} | ${ms.map(us).join(', ')} |`
  }),
  ...(PROFILE
    ? [
        '',
        "Without the guest's per-wake-up exit (the self share of `pvm_irq_enable` in a profile of the active masters' NAPI threads, an extra run each: `perf record -e cpu-clock -g -t <threads>`):",
        '',
        "| masters announcing | guest exit share | mean ms / 1,000 req per master without it | share of one master's (1/N wanted) |",
        '| --- | --- | --- | --- |',
        ...cpuRows.map(r => {
          const rest = x => meanPer(x) * (1 - x.guest)
          return `| ${r.masters} | ${(r.guest * 100).toFixed(1)} % | ${rest(r).toFixed(2)} | ${(rest(r) / rest(cpuRows[0])).toFixed(2)} (${(1 / r.masters).toFixed(2)}) |`
        }),
        '',
        ...cpuRows.flatMap(r => [
          `Profile, ${r.masters} master(s) (\`perf report --children\`, >= 4 %):`,
          '',
          '```',
          ...r.top,
          '```',
          '',
        ]),
      ]
    : []),
  '',
  `| crash of a master (link down + kill -9), ${RUNS} runs | median ms | max ms |`,
  '| --- | --- | --- |',
  `| to the router's route withdrawal (the kernel's route change, as \`ip monitor route\` reports it) | ${w.median} | ${w.max} |`,
  `| to the start of the last failed new connection (every later one succeeded; a new connection every 10 ms, 100 ms each) | ${l.median} | ${l.max} |`,
  '',
  `New connections that failed before any crash, all runs: ${failedBefore}.`,
  '',
]
writeFileSync(join(ROOT, 'docs', 'bench', 'bgp.md'), md.join('\n'))
writeFileSync(
  join(ROOT, 'docs', 'bench', 'bgp.json'),
  JSON.stringify(
    {
      quick: QUICK,
      runs: RUNS,
      seconds: SECONDS,
      load: loadavg(),
      cpu: cpuRows.map(r => ({ ...r, top: undefined })),
      crashes: runs,
      targets: checks,
    },
    null,
    2,
  ) + '\n',
)
console.log(md.join('\n'))
console.log('wrote docs/bench/bgp.md')
process.exit(0)
