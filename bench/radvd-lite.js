#!/usr/bin/env node
// radvd-lite against the real radvd, same radvd.conf, same namespaces:
// how fast a host gets its default route after the daemon starts, how fast
// a solicitation is answered, how fast the host drops the route after the
// daemon stops (final RAs), and the daemon's memory. Root only; traffic
// stays on a veth between two namespaces made and deleted here. Bounded:
// a fixed number of rounds and solicitations, each wait with a timeout.
//   node bench/radvd-lite.js [--quick]
import { spawn, execFileSync } from 'node:child_process'
import { writeFileSync, mkdtempSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import {
  start,
  stop,
  stopAll,
  bin,
  median,
  treeUsage,
  ROOT,
} from './lib/procs.js'
import { machine } from './lib/machine.js'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 2 : 5
const SOLICITS = quick ? 5 : 15
if (process.getuid?.() !== 0) {
  console.log('radvd-lite bench: needs root (network namespaces); skipped')
  process.exit(0)
}

const tag = `hasb${process.pid % 100000}`
const R = `${tag}-r`
const H = `${tag}-h`
const RIF = `rb${process.pid % 100000}`
const HIF = `hb${process.pid % 100000}`
const sh = (cmd, args) =>
  execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
const nsx = (ns, ...a) => sh('ip', ['netns', 'exec', ns, ...a])

function setup() {
  for (const ns of [R, H]) {
    sh('ip', ['netns', 'add', ns])
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
  }
  nsx(
    R,
    'sysctl',
    '-qw',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv6.conf.all.forwarding=1',
  )
  nsx(
    H,
    'sysctl',
    '-qw',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv6.conf.default.accept_ra=2',
  )
  sh('ip', [
    'link',
    'add',
    RIF,
    'netns',
    R,
    'type',
    'veth',
    'peer',
    'name',
    HIF,
    'netns',
    H,
  ])
  sh('ip', ['-n', R, 'link', 'set', RIF, 'up'])
  sh('ip', ['-n', H, 'link', 'set', HIF, 'up'])
}

function cleanup() {
  for (const ns of [R, H]) {
    try {
      for (const pid of sh('ip', ['netns', 'pids', ns])
        .split(/\s+/)
        .filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      sh('ip', ['netns', 'del', ns])
    } catch {
      /* not made */
    }
  }
}

const CONF = `interface ${RIF} {
  AdvSendAdvert on;
  MinRtrAdvInterval 30;
  MaxRtrAdvInterval 60;
  AdvLinkMTU 1400;
  prefix 2001:db8:77::/64 { };
  route 2001:db8:100::/48 { };
  RDNSS 2001:db8:77::53 { };
  DNSSL cluster.example { };
};
`

/** A line-event stream: `ip monitor` and the probe both print lines. */
function lines(child) {
  const waiters = new Set()
  createInterface({ input: child.stdout }).on('line', line => {
    const at = performance.now()
    for (const w of waiters)
      if (w.pred(line)) {
        waiters.delete(w)
        w.resolve(at)
      }
  })
  return (pred, ms = 10_000) =>
    new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: at => {
          clearTimeout(timer)
          resolve(at)
        },
      }
      const timer = setTimeout(() => {
        waiters.delete(w)
        reject(new Error('timeout'))
      }, ms)
      waiters.add(w)
    })
}

async function round(name, spawnDaemon) {
  // Route events in the host, as the kernel reports them.
  const mon = spawn('ip', ['-n', H, '-6', 'monitor', 'route'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const onRoute = lines(mon)
  const probe = spawn(
    'ip',
    [
      'netns',
      'exec',
      H,
      process.execPath,
      join(ROOT, 'packages/radvd-lite/test/fixtures/probe.mjs'),
      HIF,
      '134',
    ],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  )
  const onProbe = lines(probe)
  await onProbe(l => l.includes('"ready"'))
  const routeUp = onRoute(l => l.startsWith('default via'))
  const t0 = performance.now()
  const d = spawnDaemon()
  const up = (await routeUp) - t0
  const rss = treeUsage(d.pid).rssMB
  const rs = []
  for (let i = 0; i < SOLICITS; i++) {
    const ra = onProbe(l => l.includes('"pkt"') && l.includes('"hex":"86'))
    const ts = performance.now()
    probe.stdin.write(
      JSON.stringify({ hex: '8500000000000000', dst: 'ff02::2', hop: 255 }) +
        '\n',
    )
    rs.push((await ra) - ts)
  }
  const routeGone = onRoute(l => l.startsWith('Deleted default'))
  const ts = performance.now()
  await stop(d, 'SIGTERM')
  const down = (await routeGone) - ts
  probe.kill('SIGKILL')
  mon.kill('SIGKILL')
  return { name, up, rs, down, rss }
}

const dir = mkdtempSync(join(tmpdir(), 'ra-bench-'))
const conf = join(dir, 'radvd.conf')
writeFileSync(conf, CONF, { mode: 0o644 })
const daemons = {
  'radvd-lite': () =>
    start('ip', [
      'netns',
      'exec',
      R,
      process.execPath,
      bin('radvd-lite'),
      '-C',
      conf,
      '--control',
      join(dir, 'c.sock'),
    ]),
  'radvd 2.19': () =>
    start('ip', [
      'netns',
      'exec',
      R,
      'radvd',
      '-n',
      '-C',
      conf,
      '-p',
      join(dir, 'radvd.pid'),
      '-m',
      'stderr',
    ]),
}

const results = {}
let failed
try {
  cleanup()
  setup()
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(daemons)) {
      const res = await round(name, fn)
      const acc = (results[name] ??= { up: [], rs: [], down: [], rss: [] })
      acc.up.push(res.up)
      acc.rs.push(...res.rs)
      acc.down.push(res.down)
      acc.rss.push(res.rss)
      console.log(
        `  ${name} round ${r + 1}: route ${res.up.toFixed(1)} ms, RS->RA median ${median(res.rs).toFixed(1)} ms, route gone ${res.down.toFixed(1)} ms, RSS ${res.rss.toFixed(1)} MB`,
      )
    }
  }
} catch (e) {
  failed = e
} finally {
  await stopAll()
  cleanup()
}
if (failed) {
  console.error(failed)
  process.exit(1)
}

const p90 = xs =>
  [...xs].sort((a, b) => a - b)[
    Math.min(xs.length - 1, Math.floor(xs.length * 0.9))
  ]
const f = x => x.toFixed(1)
const m = machine()
const load = sh('cat', ['/proc/loadavg']).split(' ').slice(0, 3).join(' ')
const rows = Object.entries(results).map(([name, r]) => ({
  name,
  upMedian: median(r.up),
  rsMedian: median(r.rs),
  rsP90: p90(r.rs),
  downMedian: median(r.down),
  rssMB: median(r.rss),
  samples: { up: r.up.length, rs: r.rs.length, down: r.down.length },
}))
const lite = rows.find(r => r.name === 'radvd-lite')
const ref = rows.find(r => r.name !== 'radvd-lite')
const md = `## radvd-lite: router advertisements against radvd

What: one router namespace and one host namespace (Linux as the host,
\`accept_ra=2\`) joined by a veth; the same radvd.conf (prefix, route,
RDNSS, DNSSL, MTU) run through radvd-lite and through Debian's radvd 2.19,
alternating, ${ROUNDS} rounds each. Per round: time from spawning the daemon
to the host's kernel installing the default route (\`ip monitor route\`);
${SOLICITS} Router Solicitations from the host (raw socket probe, hop limit
255) each timed to the RA that answers it; time from SIGTERM to the host
deleting the default route (final RAs, router lifetime 0); the daemon's RSS.
Both answer by unicast (\`AdvRASolicitedUnicast\`, on by default). radvd-lite
delays every answer by random 0..500 ms as RFC 4861 6.2.6 requires ("in
all cases"), so its RS->RA mostly measures that draw (mean 250 ms); radvd
2.19 sends unicast answers at once.

Command: \`node bench/radvd-lite.js${quick ? ' --quick' : ''}\` (root). Machine: ${m.cpu},
${m.cores} cores (shared), kernel ${m.kernel}, Node ${m.node},
load average ${load} at the end, ${m.date}.

| Daemon | Start -> default route ms (median) | RS -> RA ms (median) | RS -> RA ms (p90) | SIGTERM -> route gone ms (median) | RSS MB |
|---|---|---|---|---|---|
${rows.map(r => `| ${r.name} | ${f(r.upMedian)} | ${f(r.rsMedian)} | ${f(r.rsP90)} | ${f(r.downMedian)} | ${f(r.rssMB)} |`).join('\n')}

- Start to default route: radvd-lite ${f(lite.upMedian)} ms, radvd ${f(ref.upMedian)} ms
  (ratio ${(lite.upMedian / ref.upMedian).toFixed(2)}); radvd-lite's figure includes Node's start-up.
- RS answered: medians ${f(lite.rsMedian)} vs ${f(ref.rsMedian)} ms over ${lite.samples.rs} and ${ref.samples.rs} solicitations:
  radvd-lite's is the RFC's random delay (0..500 ms), radvd skips it for unicast.
- Route removed after stop: ${f(lite.downMedian)} vs ${f(ref.downMedian)} ms.
- Memory: radvd-lite ${f(lite.rssMB)} MB (a Node process) against radvd's ${f(ref.rssMB)} MB
  (${(lite.rssMB / ref.rssMB).toFixed(0)}x): the price of the shared TypeScript runtime.
`
mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true })
writeFileSync(join(ROOT, 'docs', 'bench', 'radvd-lite.md'), md)
writeFileSync(
  join(ROOT, 'docs', 'bench', 'radvd-lite.json'),
  JSON.stringify(
    {
      machine: m,
      quick,
      rounds: ROUNDS,
      solicits: SOLICITS,
      loadavg: load,
      results: rows,
      raw: results,
    },
    null,
    2,
  ) + '\n',
)
console.log(md)
