#!/usr/bin/env node
// Benchmark 1 of issue 9: throughput and latency through one virtual
// service with four nginx nodes on loopback. Same run, same backends, same
// wrk command for every configuration: direct to one node, traffic-manager
// (userspace proxy, 1 and 2 workers), HAProxy mode tcp (1 and 2 threads),
// nginx `stream` (2 workers; the module is installed for the bench when
// missing, see lib/nginx-stream.js). Keep-alive and one connection per
// request. Every cell is measured twice: on the quiet machine and with a
// "busy neighbour" (a bounded busy loop pinned to the last core, started
// and killed by PID around each measurement), as a master that also runs
// heartbeatd, conn-syncd and ldirectord would be. Proxy CPU per 1,000
// requests is read from /proc for the proxy's process tree; it is the
// figure that holds on a loaded machine, the requests/s ratios move with
// the load (issue 20). Writes docs/bench/proxy.{md,json} and the two charts
// docs/bench/proxy-*.svg. `--quick`: 1 run of 5 s per cell; `--runs N`,
// `--seconds S`; `--only a,b`: configurations whose name contains a or b;
// `--baseline <dist>`: also measure the traffic-manager built in <dist>
// (an older `packages/traffic-manager/dist`, copied aside) for
// before/after figures in one run; `--streams`: also measure the proxy on
// its net.Socket relay (TM_PROXY_RELAY=streams, the fallback when Node's
// TCP handles are not usable). The nftables data plane needs
// namespaces and is measured by bench/nftables.js.
import {
  mkdtempSync,
  writeFileSync,
  rmSync,
  mkdirSync,
  chmodSync,
  existsSync,
} from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { createSocket } from 'node:dgram'
import { execFileSync } from 'node:child_process'
import { connect } from 'node:net'
import { formatReport } from '@has/traffic-manager/protocol'
import {
  start,
  stop,
  stopAll,
  freePort,
  bin,
  ROOT,
  wrk,
  median,
  treeUsage,
} from './lib/procs.js'
import { machine, machineMarkdown } from './lib/machine.js'
import { startHaproxyFor } from './lib/cluster.js'
import { ensureStreamModule } from './lib/nginx-stream.js'
import { barChart } from './lib/svg.js'
import { check, verdict } from './lib/targets.js'

const quick = process.argv.includes('--quick')
const arg = name => {
  const i = process.argv.indexOf(name)
  return i > 0 ? process.argv[i + 1] : undefined
}
const RUNS = Number(arg('--runs') ?? (quick ? 1 : 3))
const SECONDS = Number(arg('--seconds') ?? (quick ? 5 : 10))
const ONLY = arg('--only')?.split(',').filter(Boolean)
const BASELINE = arg('--baseline') && resolve(arg('--baseline'))
const STREAMS = process.argv.includes('--streams')
if (BASELINE && !existsSync(join(BASELINE, 'bin.js')))
  throw new Error(`--baseline ${BASELINE}: no bin.js there`)
if (!(RUNS >= 1 && SECONDS >= 1))
  throw new Error('--runs and --seconds take a number >= 1')
const CONNECTIONS = 64
const NODES = ['127.0.2.1', '127.0.2.2', '127.0.2.3', '127.0.2.4']
const PAGE = `<html><body>${'has '.repeat(150)}</body></html>\n`
const dir = mkdtempSync(join(tmpdir(), 'has-bench-proxy-'))
// nginx workers run as nobody when started by root: let them read the page.
chmodSync(dir, 0o755)

// Bounded: `seconds` (traffic-manager gets longer: on a loaded machine its
// start-up, workers included, has taken more than 10 s).
async function waitPort(port, host = '127.0.0.1', seconds = 10, child) {
  for (let i = 0; i < seconds * 20; i++) {
    if (child && child.exitCode !== null)
      throw new Error(
        `exited (${child.exitCode}) before listening on ${host}:${port}: ${child.output.slice(-500)}`,
      )
    const ok = await new Promise(r => {
      const s = connect(port, host, () => {
        s.destroy()
        r(true)
      })
      s.once('error', () => r(false))
    })
    if (ok) return
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(
    `nothing listens on ${host}:${port} after ${seconds} s${child ? `: ${child.output.slice(-500)}` : ''}`,
  )
}

async function startNginx() {
  const port = await freePort('tcp', NODES[0])
  mkdirSync(join(dir, 'www'))
  writeFileSync(join(dir, 'www', 'index.html'), PAGE)
  const conf = join(dir, 'nginx.conf')
  writeFileSync(
    conf,
    [
      'daemon off;',
      'worker_processes 2;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/nginx-error.log warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      '  keepalive_requests 1000000;',
      `  client_body_temp_path ${dir}/body;`,
      `  proxy_temp_path ${dir}/proxy;`,
      `  fastcgi_temp_path ${dir}/fcgi;`,
      `  uwsgi_temp_path ${dir}/uwsgi;`,
      `  scgi_temp_path ${dir}/scgi;`,
      '  server {',
      ...NODES.map(n => `    listen ${n}:${port};`),
      `    root ${dir}/www;`,
      '  }',
      '}',
      '',
    ].join('\n'),
  )
  const child = start('nginx', ['-c', conf, '-p', dir])
  for (const n of NODES) await waitPort(port, n)
  return { child, port }
}

// The busy neighbour: one busy loop on the last core, bounded by its own
// deadline and killed by PID when the measurement ends.
const BUSY_CORE = cpus().length - 1
function startBusy(seconds) {
  const loop = `const end = Date.now() + ${Math.ceil(seconds * 1000)}; while (Date.now() < end) {}`
  const haveTaskset = (() => {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })()
  return haveTaskset
    ? start('taskset', ['-c', String(BUSY_CORE), process.execPath, '-e', loop])
    : start(process.execPath, ['-e', loop])
}

async function startTm(
  nodePort,
  workers,
  binPath = bin('traffic-manager'),
  label = '',
  env = {},
) {
  const slug = label.trim().replace(/[^a-z0-9]+/gi, '-')
  const vipPort = await freePort('tcp')
  const reportPort = await freePort('udp')
  const conf = join(dir, `tmd-${workers}${slug ? `-${slug}` : ''}.conf`)
  writeFileSync(
    conf,
    [
      ...NODES.map((n, i) => `traffic${i + 1} ${n}`),
      `port ${reportPort}`,
      'listen 127.0.0.1',
      'timeout 600000',
      `workers ${workers}`,
      `virtual 127.0.0.1:${vipPort}`,
      '    scheduler p2c',
      ...NODES.map(n => `    node ${n}:${nodePort}`),
      '',
    ].join('\n'),
  )
  const child = start(
    process.execPath,
    [
      binPath,
      '-c',
      conf,
      '--control',
      join(dir, `tm-${workers}${slug ? `-${slug}` : ''}.sock`),
      '--log-level',
      'warn',
    ],
    { env: { ...process.env, ...env } },
  )
  const sock = createSocket('udp4')
  const epoch = Date.now()
  NODES.forEach((node, i) =>
    sock.send(
      formatReport({
        node,
        load: 1000,
        state: 'up',
        sender: 'bench',
        epoch,
        seq: i + 1,
      }),
      reportPort,
      '127.0.0.1',
    ),
  )
  await waitPort(vipPort, '127.0.0.1', 90, child)
  // Reports may race the listener; send again once it is up.
  await new Promise(r => {
    let n = 0
    NODES.forEach((node, i) =>
      sock.send(
        formatReport({
          node,
          load: 1000,
          state: 'up',
          sender: 'bench',
          epoch,
          seq: 10 + i,
        }),
        reportPort,
        '127.0.0.1',
        () => ++n === NODES.length && r(),
      ),
    )
  })
  sock.close()
  await new Promise(r => setTimeout(r, 300))
  return {
    child,
    url: `http://127.0.0.1:${vipPort}/index.html`,
    close: () => stop(child),
    command: `traffic-manager${label} (proxy, p2c, workers ${workers})`,
    pid: child.pid,
  }
}

function startHaproxy(nodePort, threads) {
  return startHaproxyFor({
    dir,
    servers: NODES.map(n => `${n}:${nodePort}`),
    balance: 'roundrobin',
    threads,
    path: '/index.html',
  })
}

async function startNginxStream(nodePort, workers, loadModule) {
  const port = await freePort('tcp')
  const conf = join(dir, `nginx-stream-${workers}.conf`)
  writeFileSync(
    conf,
    [
      ...(loadModule ? [`load_module ${loadModule};`] : []),
      'daemon off;',
      `worker_processes ${workers};`,
      `pid ${dir}/nginx-stream-${workers}.pid;`,
      `error_log ${dir}/nginx-stream-error.log warn;`,
      'events { worker_connections 8192; }',
      'stream {',
      '  upstream nodes {',
      ...NODES.map(n => `    server ${n}:${nodePort};`),
      '  }',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    proxy_pass nodes;',
      '    proxy_connect_timeout 2s;',
      '  }',
      '}',
      '',
    ].join('\n'),
  )
  const child = start('nginx', ['-c', conf, '-p', dir])
  await waitPort(port)
  return {
    child,
    url: `http://127.0.0.1:${port}/index.html`,
    close: () => stop(child),
    command: `nginx stream (round robin, ${workers} workers)`,
    pid: child.pid,
  }
}

const stream = ensureStreamModule()
if (!stream.ok)
  console.log(`proxy: nginx stream not measured: ${stream.reason}`)
const nginx = await startNginx()
const configs = [
  {
    name: 'direct (one nginx node)',
    make: async () => ({
      url: `http://${NODES[0]}:${nginx.port}/index.html`,
      close: async () => {},
      command: 'nginx, no proxy',
    }),
  },
  { name: 'haproxy 1 thread', make: () => startHaproxy(nginx.port, 1) },
  { name: 'haproxy 2 threads', make: () => startHaproxy(nginx.port, 2) },
  ...(stream.ok
    ? [
        {
          name: 'nginx stream 2 workers',
          make: () => startNginxStream(nginx.port, 2, stream.loadModule),
        },
      ]
    : []),
  { name: 'traffic-manager 1 worker', make: () => startTm(nginx.port, 1) },
  { name: 'traffic-manager 2 workers', make: () => startTm(nginx.port, 2) },
  ...(BASELINE
    ? [
        {
          name: 'traffic-manager 1 worker (baseline)',
          make: () =>
            startTm(nginx.port, 1, join(BASELINE, 'bin.js'), ' baseline'),
        },
        {
          name: 'traffic-manager 2 workers (baseline)',
          make: () =>
            startTm(nginx.port, 2, join(BASELINE, 'bin.js'), ' baseline'),
        },
      ]
    : []),
  ...(STREAMS
    ? [1, 2].map(workers => ({
        name: `traffic-manager ${workers} worker${workers > 1 ? 's' : ''} (net.Socket relay)`,
        make: () =>
          startTm(
            nginx.port,
            workers,
            bin('traffic-manager'),
            ' net.Socket relay',
            {
              TM_PROXY_RELAY: 'streams',
            },
          ),
      }))
    : []),
].filter(c => !ONLY || ONLY.some(o => c.name.includes(o)))
const workloads = [
  { name: 'keep-alive', close: false },
  { name: 'close', close: true },
]
const neighbours = ['quiet', 'busy']
const samples = {}
let wrkCommand = ''
const cpu = {}
const loads = []
try {
  for (let run = 0; run < RUNS; run++) {
    for (const c of configs) {
      const inst = await c.make()
      for (const nb of neighbours) {
        for (const w of workloads) {
          const busy = nb === 'busy' ? startBusy(SECONDS + 3) : null
          const before = inst.pid ? treeUsage(inst.pid).cpuSeconds : 0
          const r = await wrk(inst.url, {
            seconds: SECONDS,
            connections: CONNECTIONS,
            threads: 2,
            close: w.close,
          })
          const after = inst.pid ? treeUsage(inst.pid).cpuSeconds : 0
          if (busy) await stop(busy, 'SIGKILL')
          loads.push(loadavg()[0])
          if (!w.close) wrkCommand = r.command.replace(/http:\S+/, '<url>')
          const key = `${c.name}|${w.name}|${nb}`
          ;(samples[key] ??= []).push(r)
          if (inst.pid)
            (cpu[key] ??= []).push(
              ((after - before) / (r.rps * SECONDS)) * 1000 * 1000,
            )
          console.log(
            `run ${run + 1} ${c.name} ${w.name} ${nb}: ${Math.round(r.rps)} req/s p50 ${r.p50} ms p99 ${r.p99} ms errors ${r.errors}` +
              (inst.pid ? ` cpu ${cpu[key].at(-1).toFixed(1)} ms/1k` : ''),
          )
        }
      }
      await inst.close()
    }
  }
} finally {
  await stopAll()
}

const rows = []
for (const nb of neighbours) {
  for (const c of configs) {
    for (const w of workloads) {
      const key = `${c.name}|${w.name}|${nb}`
      const s = samples[key] ?? []
      rows.push({
        config: c.name,
        workload: w.name,
        neighbour: nb,
        rps: Math.round(median(s.map(x => x.rps))),
        p50: +median(s.map(x => x.p50)).toFixed(2),
        p99: +median(s.map(x => x.p99)).toFixed(2),
        errors: s.reduce((a, x) => a + x.errors, 0),
        cpuMsPer1000: cpu[key] ? +median(cpu[key]).toFixed(1) : null,
      })
    }
  }
}
const row = (c, w, nb = 'quiet') =>
  rows.find(r => r.config === c && r.workload === w && r.neighbour === nb)
const get = (c, w, nb) => row(c, w, nb)?.rps ?? NaN
const cpuOf = (c, w, nb) => row(c, w, nb)?.cpuMsPer1000 ?? NaN
const r2 = x => (Number.isFinite(x) ? +x.toFixed(2) : null)
const ratios = {}
for (const nb of neighbours) {
  for (const w of workloads) {
    const tm = get('traffic-manager 2 workers', w.name, nb)
    ratios[`${w.name}${nb === 'busy' ? ' busy' : ''}`] = {
      vsHaproxy2Threads: r2(tm / get('haproxy 2 threads', w.name, nb)),
      vsHaproxy1Thread: r2(tm / get('haproxy 1 thread', w.name, nb)),
      oneWorkerVsHaproxy1Thread: r2(
        get('traffic-manager 1 worker', w.name, nb) /
          get('haproxy 1 thread', w.name, nb),
      ),
      vsNginxStream: stream.ok
        ? r2(tm / get('nginx stream 2 workers', w.name, nb))
        : null,
      // CPU per request, proxy against HAProxy with the same number of cores.
      cpu1WorkerVsHaproxy1Thread: r2(
        cpuOf('traffic-manager 1 worker', w.name, nb) /
          cpuOf('haproxy 1 thread', w.name, nb),
      ),
      cpu2WorkersVsHaproxy2Threads: r2(
        cpuOf('traffic-manager 2 workers', w.name, nb) /
          cpuOf('haproxy 2 threads', w.name, nb),
      ),
      cpu2WorkersVs1Worker: r2(
        cpuOf('traffic-manager 2 workers', w.name, nb) /
          cpuOf('traffic-manager 1 worker', w.name, nb),
      ),
      ...(BASELINE
        ? {
            cpuVsBaseline1Worker: r2(
              cpuOf('traffic-manager 1 worker', w.name, nb) /
                cpuOf('traffic-manager 1 worker (baseline)', w.name, nb),
            ),
            cpuVsBaseline2Workers: r2(
              cpuOf('traffic-manager 2 workers', w.name, nb) /
                cpuOf('traffic-manager 2 workers (baseline)', w.name, nb),
            ),
          }
        : {}),
      ...(STREAMS
        ? {
            cpuVsStreams1Worker: r2(
              cpuOf('traffic-manager 1 worker', w.name, nb) /
                cpuOf(
                  'traffic-manager 1 worker (net.Socket relay)',
                  w.name,
                  nb,
                ),
            ),
            cpuVsStreams2Workers: r2(
              cpuOf('traffic-manager 2 workers', w.name, nb) /
                cpuOf(
                  'traffic-manager 2 workers (net.Socket relay)',
                  w.name,
                  nb,
                ),
            ),
          }
        : {}),
    }
  }
}
const ka = ratios['keep-alive']
const cl = ratios.close
// Same number of cores: 2 workers against 2 threads, 1 worker against 1 thread.
const targets = [
  check(
    'userspace proxy, keep-alive: >= 0.8 x HAProxy (2 workers vs 2 threads)',
    ka.vsHaproxy2Threads,
    0.8,
  ),
  check(
    'userspace proxy, one connection per request: >= 0.5 x HAProxy (2 workers vs 2 threads)',
    cl.vsHaproxy2Threads,
    0.5,
  ),
  check(
    'proxy CPU per request, keep-alive: <= 1.3 x HAProxy (1 worker vs 1 thread)',
    ka.cpu1WorkerVsHaproxy1Thread,
    1.3,
    { atLeast: false },
  ),
  check(
    'proxy CPU per request, keep-alive: <= 1.3 x HAProxy (2 workers vs 2 threads)',
    ka.cpu2WorkersVsHaproxy2Threads,
    1.3,
    { atLeast: false },
  ),
  check(
    'proxy CPU per request, one connection per request: <= 2 x HAProxy (1 worker vs 1 thread)',
    cl.cpu1WorkerVsHaproxy1Thread,
    2,
    { atLeast: false },
  ),
  check(
    'proxy CPU per request, one connection per request: <= 2 x HAProxy (2 workers vs 2 threads)',
    cl.cpu2WorkersVsHaproxy2Threads,
    2,
    { atLeast: false },
  ),
  check(
    'proxy CPU per request, keep-alive: 2 workers <= 1 worker',
    ka.cpu2WorkersVs1Worker,
    1,
    { atLeast: false },
  ),
  check(
    'proxy CPU per request, one connection per request: 2 workers <= 1 worker',
    cl.cpu2WorkersVs1Worker,
    1,
    { atLeast: false },
  ),
  check(
    'busy neighbour, keep-alive: >= 0.7 x HAProxy (2 workers vs 2 threads)',
    ratios['keep-alive busy'].vsHaproxy2Threads,
    0.7,
  ),
  check(
    'busy neighbour, one connection per request: >= 0.45 x HAProxy (2 workers vs 2 threads)',
    ratios['close busy'].vsHaproxy2Threads,
    0.45,
  ),
]
for (const w of workloads) {
  writeFileSync(
    join(ROOT, 'docs', 'bench', `proxy-${w.name}.svg`),
    barChart({
      title: `requests/s, ${w.name === 'close' ? 'one connection per request' : 'keep-alive'} (median of ${RUNS})`,
      yLabel: 'requests/s',
      bars: rows
        .filter(r => r.workload === w.name && r.neighbour === 'quiet')
        .map(r => ({ name: r.config, value: r.rps })),
    }),
  )
}
const m = machine()
const loadSeen = { min: Math.min(...loads), max: Math.max(...loads) }
writeFileSync(
  join(ROOT, 'docs', 'bench', 'proxy.json'),
  JSON.stringify(
    {
      machine: m,
      quick,
      runs: RUNS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      busyCore: BUSY_CORE,
      baseline: BASELINE ? relative(ROOT, BASELINE) : null,
      only: ONLY ?? null,
      loadAverage1m: loadSeen,
      wrk: wrkCommand,
      nginxStream: stream,
      rows,
      ratios,
      targets,
    },
    null,
    2,
  ) + '\n',
)
// What the profile shows and what was done (issue 20); kept by hand, dated.
const ANALYSIS = [
  '### Where the CPU goes, and what was done (issue 20; measured 2026-12-07)',
  '',
  'The relay no longer uses `net.Socket`. `src/relay-handles.ts` works on',
  "libuv's TCP handles, the layer Node's `net` is built on (reached with",
  '`process.binding`, checked once at start; `src/uv-binding.ts`):',
  '- two handles and one state object per connection, and no streams or',
  '  event emitters;',
  "- each end reads into its own 16 KiB buffer from a pool (HAProxy's",
  "  `tune.bufsize`, nginx stream's `proxy_buffer_size`), so a read",
  '  allocates nothing;',
  '- a chunk is written to the other end at once; a write the kernel does',
  '  not take at once stops reading the end that fed it until it is out.',
  '',
  'The old relay stays as the fallback (`src/relay-streams.ts`,',
  '`TM_PROXY_RELAY=streams`, the "net.Socket relay" rows above). The',
  'test suite runs on both.',
  '',
  'Profile of the accept, connect, relay, close path: one `ProxyService`',
  'in process, one nginx node, `wrk -t1 -c32 -H "Connection: close"` after',
  'a 4 s warm-up, `perf record -e cpu-clock` over 6 s (the VM has no',
  'hardware counters; `node --perf-basic-prof` names the JavaScript). Share',
  "of the proxy's samples:",
  '',
  '| where | handles relay | net.Socket relay |',
  '| --- | ---: | ---: |',
  '| kernel (TCP over loopback, epoll, the syscalls) | 74.7 % | 52.5 % |',
  '| Node and V8 native code (callbacks into JavaScript, handle wrappers, JIT threads) | 17.7 % | 25.5 % |',
  '| libc (syscall stubs, malloc) | 3.1 % | 4.6 % |',
  '| V8 builtins (inline caches, typed arrays) | 2.7 % | 7.1 % |',
  '| garbage collector | 0.4 % | 5.4 % |',
  "| JavaScript of Node's `net`, `stream`, `events`, timers | 0.2 % | 4.5 % |",
  '| our code (relay, proxy-service, balancer, schedulers) | 1.8 % | 0.8 % |',
  '| connections per second through the proxy, same load | 11,226 | 6,256 |',
  '',
  'Keep-alive on the handles relay (`wrk -t1 -c32`, same method): kernel',
  '81.0 %, Node and V8 native 13.0 %, libc 2.7 %, builtins 2.0 %, our code',
  '1.0 %, garbage collector 0.2 %. Per request the proxy makes 2 `read`',
  'and 2 `write` calls and 0.07 `epoll_wait` (`strace -c`): no syscall is',
  'left to cut there.',
  '',
  'Syscalls per connection (`strace -c`, close workload):',
  '',
  '| syscalls per connection | handles relay | net.Socket relay | HAProxy 2.6, 1 thread (2026-12-05) |',
  '| --- | ---: | ---: | ---: |',
  '| accept4, socket, connect, setsockopt x2, getsockopt | 6 | 6 | 5 (no getsockopt) + fcntl |',
  '| read / write | 4 / 2 | 4 / 2 | 4 / 2 |',
  '| shutdown | 0.11 | 1.00 | 0.17 |',
  '| close | 2 | 2 | 2 |',
  '| epoll_ctl | 6.2 | 6.2 | 3.1 |',
  '| epoll_wait | 1.05 | 1.04 | 0.26 |',
  '| total (futex left out) | 21.4 | 22.3 | 18.0 |',
  '',
  'The handles relay asks for a shutdown only while the other side is',
  'still open. When the client closes first, the handle is closed, and',
  "libuv's pending shutdown is never issued.",
  '',
  'User and system time per request, one proxy process against HAProxy',
  'with 1 thread, the same nginx node and the same load (`wrk -t1 -c32`,',
  '6 s after 3 s of warm-up, two rounds, utime and stime from /proc):',
  '',
  '| workload | handles relay, user + system us | HAProxy, user + system us |',
  '| --- | ---: | ---: |',
  '| keep-alive | 2.1-2.3 + 8.9-9.7 | 1.4-1.5 + 8.9 |',
  '| close | 20.7-23.0 + 57.8-58.9 | 6.6-7.2 + 36.0-39.5 |',
  '',
  'On keep-alive the kernel work is the same and our user time is about',
  '0.8 us more per request. On close the system time is 1.5 times',
  "HAProxy's. The extra is mostly waking the peers: a send over loopback",
  "runs the receiver's TCP input and wakes nginx or wrk in the sender's",
  'time, and these wakes (`_raw_spin_unlock_irqrestore` in the VM) are',
  "21.5 % of the proxy's samples against 13.2 % of HAProxy's. A slower",
  'turn leaves the peers idle and asleep more often, so more sends have to',
  'wake them.',
  '',
  "What is left: most of the proxy's CPU is now in the kernel, doing what",
  "HAProxy's does, plus libuv's epoll bookkeeping. libuv is level-triggered",
  "and registers each direction apart, so it makes twice HAProxy's",
  "`epoll_ctl` calls. The user-space part is mostly Node's way into",
  'JavaScript for each read: a callback scope, a microtask checkpoint, and',
  'async-hooks bookkeeping. Only a relay outside JavaScript would remove',
  'that; the kernel data planes (`nftables`, `nftables-dr`) are that, for',
  'operators with CAP_NET_ADMIN.',
  '',
  'Three runs of the same command on 2026-12-07, CPU per request against',
  'HAProxy (targets: keep-alive <= 1.3, close <= 2, 2 workers <= 1 worker):',
  '',
  '| run | keep-alive, 1 w vs 1 t / 2 w vs 2 t | close, 1 w vs 1 t / 2 w vs 2 t | 2 w vs 1 w, keep-alive / close |',
  '| --- | ---: | ---: | ---: |',
  '| quiet machine (load 1.3-5.2) | 1.23 / 1.15 | 1.56 / 1.49 | 0.91 / 0.93 |',
  '| quiet, busy-neighbour cells | 1.31 / 1.29 | 1.55 / 1.38 | 1.01 / 0.99 |',
  '| other work on the machine (type-check loops, load 3.0-10.4) | 1.32 / 1.34 | 1.60 / 1.44 | 1.03 / 1.07 |',
  '| same, busy-neighbour cells | 1.40 / 1.21 | 1.53 / 1.36 | 0.98 / 0.97 |',
  '| quiet machine, with the read views below (load 2.9-5.7; the table above) | 1.23 / 1.20 | 1.53 / 1.51 | 0.92 / 0.92 |',
  '| same, busy-neighbour cells | 1.33 / 1.30 | 1.47 / 1.52 | 1.05 / 1.04 |',
  '',
  'Read views (2026-12-07, evening): the relay hands `writeBuffer` a',
  'plain `Uint8Array` over the bytes a read put in its buffer, where it',
  'used `Buffer#subarray`, which goes through the species constructor',
  '(about 70 ns against 20-28 ns in a micro-benchmark, twice per',
  'keep-alive request). In the table above the baseline rows are the',
  'build just before: 0.94-0.97 of its CPU per keep-alive request in the',
  'quiet cells, 0.94 and 1.03 with the busy neighbour, and 0.99-1.04 on',
  'close, where the two reads are a small share of the work. Within the',
  'noise, as expected of one allocation per read.',
  '',
  'Against the old relay in the first two runs: 0.50-0.56 of its CPU per new',
  'connection and 0.59-0.69 per keep-alive request. The close targets',
  'hold with room in every cell. Keep-alive is at the line: 1.15 to 1.40',
  "x HAProxy's CPU per request, at or under 1.3 in seven cells of twelve.",
  'The 2 workers against 1 ratios stay within 0.91-1.07 (mean 0.99 over',
  'the twelve): each worker is a loop',
  'of its own, and the noise between runs is as large as the difference.',
  "HAProxy's own 2 threads against 1 thread in the same cells: 0.97-1.19.",
  '',
  'The price is memory: every open connection holds its two 16 KiB buffers,',
  "idle or not, as nginx's stream proxy does. They are resident as far as",
  'reads have filled them: 10.5 KiB per idle connection after a small',
  'answer, 22 KiB after a 64 KiB one, against 9.5 and 15.4 KiB on the',
  '`net.Socket` relay (`node bench/proxy-memory.js`, 3,000 connections).',
  '',
  'Earlier (2026-12-05), on the `net.Socket` relay: one state object per',
  'connection instead of eight closures, listeners added once, no timer',
  'per connection (one connect-timeout queue and one idle sweep per',
  'service), and a close instead of a shutdown for the second FIN. That',
  'saved about 8 %, and our code fell to 1 % of the samples, which is',
  'what pointed at the streams.',
]
const cmdLine = [
  'node bench/proxy.js',
  ...process.argv
    .slice(2)
    .map(a => (BASELINE && resolve(a) === BASELINE ? '<baseline dist>' : a)),
].join(' ')
const cpuRow = r => r.cpuMsPer1000 ?? '-'
const ratioRows = nb =>
  workloads.map(w => {
    const x = ratios[`${w.name}${nb === 'busy' ? ' busy' : ''}`]
    return (
      `| ${w.name} | ${x.vsHaproxy2Threads ?? '-'} | ${x.oneWorkerVsHaproxy1Thread ?? '-'} | ${x.cpu2WorkersVsHaproxy2Threads ?? '-'} | ${x.cpu1WorkerVsHaproxy1Thread ?? '-'} | ${x.cpu2WorkersVs1Worker ?? '-'} |` +
      (BASELINE
        ? ` ${x.cpuVsBaseline1Worker ?? '-'} | ${x.cpuVsBaseline2Workers ?? '-'} |`
        : '')
    )
  })
const md = [
  '## traffic-manager userspace proxy vs HAProxy (issues 9 and 20)',
  '',
  `What: HTTP GET of a ${Buffer.byteLength(PAGE)}-byte static page through one virtual service with four`,
  'nginx nodes (one nginx, 2 workers, listening on 127.0.2.1-4), every',
  'configuration measured in the same run against the same backends.',
  `wrk runs on the same 2 cores as the proxies and nginx. Median of ${RUNS} run(s)`,
  `of ${SECONDS} s each; configurations interleaved per run. Each cell twice:`,
  '`quiet`, and `busy`: a busy neighbour, one bounded busy loop pinned to',
  `core ${BUSY_CORE} (\`taskset\`), started before and killed (by PID) after the measurement.`,
  "Proxy CPU is user + system time of the proxy's process tree (for",
  'traffic-manager the control process and its workers) from /proc, per',
  '1,000 requests: on a shared machine it holds where requests/s ratios',
  'move with the load.',
  '',
  'Command: `' + cmdLine + '`; load generator:',
  '',
  '```',
  wrkCommand + '   # close: plus -H "Connection: close"',
  '```',
  '',
  `Load average (1 min) seen during the run: ${loadSeen.min.toFixed(2)} to ${loadSeen.max.toFixed(2)} on ${m.cores} cores (other work on the machine included).`,
  '',
  '| configuration | workload | neighbour | requests/s | p50 ms | p99 ms | errors | proxy CPU ms / 1000 req |',
  '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    r =>
      `| ${r.config} | ${r.workload} | ${r.neighbour} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} | ${cpuRow(r)} |`,
  ),
  '',
  '![proxy, keep-alive](bench/proxy-keep-alive.svg)',
  '![proxy, one connection per request](bench/proxy-close.svg)',
  '',
  'Ratios (same run): traffic-manager against HAProxy with the same number',
  'of cores (2 workers against 2 threads, 1 worker against 1 thread);',
  'requests/s (higher is better) and proxy CPU per request (lower is better).',
  '',
  ...neighbours.flatMap(nb => [
    `${nb === 'busy' ? 'Busy neighbour' : 'Quiet'}:`,
    '',
    '| workload | req/s, 2 w vs 2 t | req/s, 1 w vs 1 t | CPU/req, 2 w vs 2 t | CPU/req, 1 w vs 1 t | CPU/req, 2 w vs 1 w |' +
      (BASELINE
        ? ' CPU/req vs baseline, 1 w | CPU/req vs baseline, 2 w |'
        : ''),
    '| --- | ---: | ---: | ---: | ---: | ---: |' +
      (BASELINE ? ' ---: | ---: |' : ''),
    ...ratioRows(nb),
    '',
  ]),
  'Targets:',
  '',
  ...targets.map(c => `- ${c.target}: ${verdict(c)}`),
  '',
  stream.ok
    ? `nginx \`stream\`: Debian's nginx-light has no stream module; the bench loads the matching dynamic module (package libnginx-mod-stream, installed by the bench when missing) with \`load_module ${stream.loadModule ?? '(built in)'}\`.`
    : `nginx \`stream\` is not measured: ${stream.reason}.`,
  '',
  ...ANALYSIS,
  '',
  'Machine:',
  '',
  machineMarkdown(m),
  '',
].join('\n')
writeFileSync(join(ROOT, 'docs', 'bench', 'proxy.md'), md)
rmSync(dir, { recursive: true, force: true })
console.log(md)
