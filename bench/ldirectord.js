#!/usr/bin/env node
// ldirectord benchmark, side by side with HAProxy's active health checks
// (the reference) against the same real nginx on loopback:
//  1. cost: N real servers checked every second (HTTP GET /index.html, body
//     must contain "Home") for D seconds; CPU seconds and RSS of the
//     checker, checks counted in nginx's access log.
//  2. detection: both checkers watch one nginx (interval 1 s, fall 1,
//     timeout 1 s); nginx is stopped; time until ldirectord sends
//     `weight <svc> <node> 0` to a control socket (the traffic-manager's
//     protocol) and until HAProxy's stats socket shows the server DOWN.
//     Same kill for both, R runs.
//   node bench/ldirectord.js [--quick]
import { execFileSync } from 'node:child_process'
import {
  mkdtempSync,
  writeFileSync,
  readFileSync,
  mkdirSync,
  rmSync,
  existsSync,
  chmodSync,
} from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { machine, machineMarkdown } from './lib/machine.js'
import {
  ROOT,
  bin,
  start,
  stop,
  stopAll,
  waitOutput,
  freePort,
  median,
  procUsage,
} from './lib/procs.js'

const quick = process.argv.includes('--quick')
const N = quick ? 50 : 200
const D = quick ? 8 : 20
const RUNS = quick ? 5 : 15
const dir = mkdtempSync(join(tmpdir(), 'ld-bench-'))
chmodSync(dir, 0o755) // nginx workers (nobody) must read the docroot
const sleep = ms => new Promise(r => setTimeout(r, ms))

async function listening(port) {
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise(r => {
      const s = connect(port, '127.0.0.1')
      s.once('connect', () => (s.destroy(), r(true)))
      s.once('error', () => r(false))
    })
    if (ok) return
    await sleep(10)
  }
  throw new Error(`nothing listens on ${port}`)
}

async function startNginx(port) {
  const d = join(dir, 'nginx')
  mkdirSync(join(d, 'html'), { recursive: true })
  mkdirSync(join(d, 'tmp'), { recursive: true })
  writeFileSync(join(d, 'html', 'index.html'), '<h1>Home Page</h1>\n')
  const t = n => `${n}_temp_path ${d}/tmp/${n};`
  writeFileSync(
    join(d, 'nginx.conf'),
    `worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log;
events { worker_connections 1024; }
http {
  access_log ${d}/access.log;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(t).join('\n  ')}
  server { listen 127.0.0.1:${port}; root ${d}/html; }
}
`,
  )
  const child = start('nginx', [
    '-p',
    d,
    '-c',
    join(d, 'nginx.conf'),
    '-g',
    'daemon off;',
  ])
  await listening(port)
  return child
}
const accessLines = () => {
  const p = join(dir, 'nginx', 'access.log')
  // Only successful checks count (a 403 from a bad docroot would not).
  return existsSync(p)
    ? readFileSync(p, 'utf8')
        .split('\n')
        .filter(l => l.includes('" 200 ')).length
    : 0
}

function ldConfig(port, n, extra) {
  let s = `checkinterval = 1\nchecktimeout = 1\nfailurecount = 1\n${extra}`
  for (let i = 0; i < n; i++) {
    s += `virtual = 127.0.0.1:${20000 + i}\n    real = 127.0.0.1:${port} masq\n    request = "index.html"\n    receive = "Home"\n    service = http\n`
  }
  const f = join(dir, `ld-${n}.cf`)
  writeFileSync(f, s)
  return f
}

function haproxyConfig(port, n) {
  let s = `global
  maxconn 4096
  stats socket ${dir}/haproxy.sock mode 600 level admin
defaults
  mode http
  timeout connect 1s
  timeout check 1s
  timeout client 5s
  timeout server 5s
backend b
  option httpchk GET /index.html
  http-check expect string Home
`
  for (let i = 0; i < n; i++)
    s += `  server s${i} 127.0.0.1:${port} check inter 1s fall 1 rise 1\n`
  const f = join(dir, `haproxy-${n}.cfg`)
  writeFileSync(f, s)
  return f
}

async function cost(name, child) {
  await sleep(1500) // warm-up: first round of checks and JIT
  const before = procUsage(child.pid)
  const lines0 = accessLines()
  await sleep(D * 1000)
  const after = procUsage(child.pid)
  const checks = accessLines() - lines0
  await stop(child)
  const cpu = after.cpuSeconds - before.cpuSeconds
  return {
    checker: name,
    reals: N,
    seconds: D,
    checks,
    checksPerSec: checks / D,
    cpuSeconds: cpu,
    cpuMsPerCheck: checks ? (cpu * 1000) / checks : NaN,
    rssMB: after.rssMB,
  }
}

function haproxyDown() {
  return new Promise(resolve => {
    const s = connect(join(dir, 'haproxy.sock'))
    let out = ''
    s.on('data', c => (out += c))
    s.on('end', () =>
      resolve(
        /^b,s0,.*?,DOWN/m.test(out) || /\nb,s0,([^,]*,){16}DOWN/.test(out),
      ),
    )
    s.on('error', () => resolve(false))
    s.write('show stat\n')
  })
}

async function main() {
  const port = await freePort()
  let nginx = await startNginx(port)
  const nginxVersion =
    /nginx\/(\S+)/.exec(
      execFileSync('nginx', ['-v'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }) || '',
    )?.[1] ??
    /nginx\/(\S+)/.exec(
      String(execFileSync('sh', ['-c', 'nginx -v 2>&1'])),
    )?.[1]
  const results = {
    machine: { ...machine(), nginx: nginxVersion },
    quick,
    cost: [],
    detection: [],
  }

  console.error('ldirectord bench: cost')
  // 1. cost
  const ldCost = start(process.execPath, [
    bin('ldirectord'),
    '-c',
    ldConfig(port, N, ''),
    '--control',
    join(dir, 'ld.sock'),
    '--log-level',
    'warn',
  ])
  results.cost.push(await cost('ldirectord', ldCost))
  const haCost = start('haproxy', ['-db', '-f', haproxyConfig(port, N)])
  results.cost.push(await cost('haproxy', haCost))

  console.error('ldirectord bench: detection', JSON.stringify(results.cost))
  // 2. detection: a stand-in traffic-manager control socket records weights.
  const weights = []
  const tm = createServer(s => {
    s.on('data', c => {
      for (const line of String(c).split('\n').filter(Boolean)) {
        weights.push({ at: performance.now(), line })
        s.write('OK {}\n')
      }
    })
  })
  const tmSock = join(dir, 'tm.sock')
  await new Promise(r => tm.listen(tmSock, r))
  const ld = start(process.execPath, [
    bin('ldirectord'),
    '-c',
    ldConfig(port, 1, `trafficmanagercontrol = ${tmSock}\n`),
    '--control',
    join(dir, 'ld2.sock'),
  ])
  await waitOutput(ld, /"msg":"started"/)
  const ha = start('haproxy', ['-db', '-f', haproxyConfig(port, 1)])
  for (let run = 0; run < RUNS; run++) {
    // Both see the server up, then stop it.
    for (
      let i = 0;
      !weights.some(
        w =>
          w.line.endsWith(' auto') &&
          w.at > (results.detection.at(-1)?.killedAt ?? -1),
      );
      i++
    ) {
      if (i === 1000)
        throw new Error(
          `ldirectord never saw nginx up: ${ld.output.slice(-300)}`,
        )
      await sleep(20)
    }
    while (await haproxyDown()) await sleep(20)
    await sleep(Math.random() * 1000) // a random phase against the check interval
    const n0 = weights.length
    const killedAt = performance.now()
    await stop(nginx)
    let ldAt, haAt
    while (ldAt === undefined || haAt === undefined) {
      if (ldAt === undefined)
        ldAt = weights.slice(n0).find(w => w.line.endsWith(' 0'))?.at
      if (haAt === undefined && (await haproxyDown())) haAt = performance.now()
      if (performance.now() - killedAt > 10_000)
        throw new Error('no detection within 10 s')
      await sleep(5)
    }
    results.detection.push({
      run,
      killedAt,
      ldirectordMs: ldAt - killedAt,
      haproxyMs: haAt - killedAt,
    })
    console.error('run', JSON.stringify(results.detection.at(-1)))
    nginx = await startNginx(port)
  }
  await stop(ld)
  await stop(ha)
  tm.close()
  await stop(nginx)
  return results
}

function markdown(r) {
  const [l, h] = r.cost
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a')
  const ldMed = median(r.detection.map(d => d.ldirectordMs))
  const haMed = median(r.detection.map(d => d.haproxyMs))
  const ldMax = Math.max(...r.detection.map(d => d.ldirectordMs))
  const haMax = Math.max(...r.detection.map(d => d.haproxyMs))
  return `## ldirectord: health-check cost and failure detection

What: \`ldirectord\` (director mode) against HAProxy ${r.machine.haproxy}'s
active HTTP checks, both checking the same nginx ${r.machine.nginx} on
loopback: \`GET /index.html\`, body must contain \`Home\`, every 1 s,
timeout 1 s, one failure marks a server down.

Command: \`node bench/ldirectord.js${r.quick ? ' --quick' : ''}\` (${r.quick ? 'quick run' : 'full run'}).

1. Cost: ${l.reals} real servers checked for ${l.seconds} s after a 1.5 s
   warm-up; CPU (user+sys) and RSS of the checker process from /proc;
   checks counted in nginx's access log.

| checker | checks/s | CPU s | CPU ms per check | RSS MB |
| --- | ---: | ---: | ---: | ---: |
| ldirectord | ${f(l.checksPerSec, 1)} | ${f(l.cpuSeconds)} | ${f(l.cpuMsPerCheck, 3)} | ${f(l.rssMB, 0)} |
| haproxy | ${f(h.checksPerSec, 1)} | ${f(h.cpuSeconds)} | ${f(h.cpuMsPerCheck, 3)} | ${f(h.rssMB, 0)} |
| ratio ldirectord/haproxy | ${f(l.checksPerSec / h.checksPerSec)} | ${f(l.cpuSeconds / h.cpuSeconds)} | ${f(l.cpuMsPerCheck / h.cpuMsPerCheck)} | ${f(l.rssMB / h.rssMB)} |

2. Detection: one nginx stopped (SIGTERM, listener closed) at a random
   phase of the check interval, ${r.detection.length} runs; time from the
   stop to ldirectord's \`weight ... 0\` on the control socket, and to
   HAProxy's stats socket showing the server DOWN (polled every 5 ms).
   Bound for both: interval x fall + timeout = 2000 ms.

| checker | median ms | max ms |
| --- | ---: | ---: |
| ldirectord | ${f(ldMed, 0)} | ${f(ldMax, 0)} |
| haproxy | ${f(haMed, 0)} | ${f(haMax, 0)} |
| ratio ldirectord/haproxy | ${f(ldMed / haMed)} | ${f(ldMax / haMax)} |

Machine (shared with other jobs during the run; CPU figures are noisy):

${machineMarkdown(r.machine)}
`
}

try {
  const r = await main()
  mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true })
  writeFileSync(
    join(ROOT, 'docs', 'bench', 'ldirectord.json'),
    JSON.stringify(r, null, 2) + '\n',
  )
  writeFileSync(join(ROOT, 'docs', 'bench', 'ldirectord.md'), markdown(r))
  console.log(markdown(r))
} finally {
  await stopAll()
  rmSync(dir, { recursive: true, force: true })
}
