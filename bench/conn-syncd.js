// Fraction of long-lived TCP streams that survive a master failover, with
// and without conn-syncd, over 10 runs each (--quick: 2). Namespaces:
// client, two masters (nftables data plane via openNftDataPlane), two
// traffic nodes, on one bridge. Each run: 20 streams through the VIP on m1,
// wait until the standby holds them (sync runs), cut m1's link, move the
// VIP to m2 with gratuitous ARP, check every stream.
//
//   node bench/conn-syncd.js [--quick]      (root)
//   node bench/conn-syncd.js --resync [--flows 10000] [--priority P]
//        [--busy N] [--compare [--runs R]] [--profile DIR]   (root; see below)
//
// Writes docs/bench/conn-syncd.md and docs/bench/conn-syncd.json (--resync
// --compare: docs/bench/conn-syncd-resync.md and .json).
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { netnsBench } from './lib/netns-bench.js'

const ROOT = join(fileURLToPath(import.meta.url), '..', '..')
const FIX = join(ROOT, 'packages/conn-syncd/test/fixtures')
const quick = process.argv.includes('--quick')
const RUNS = quick ? 2 : 10
const STREAMS = 20
const VIP = '10.79.0.100'
const { dir, ip, nsx, track, addNs, plug } = netnsBench('hcb')
const sleep = ms => new Promise(r => setTimeout(r, ms))

/** A child in a namespace whose JSON stdout lines can be awaited. */
function proc(ns, args, stdin = false, nice = undefined) {
  const pre = nice === undefined ? [] : ['nice', '-n', String(nice)]
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, ...pre, process.execPath, ...args],
    { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'ignore'] },
  )
  track(child)
  const lines = []
  const waiters = []
  createInterface({ input: child.stdout }).on('line', l => {
    let o
    try {
      o = JSON.parse(l)
    } catch {
      return
    }
    lines.push(o)
    for (const w of [...waiters])
      if (w.pred(o)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(o)
      }
  })
  return {
    child,
    lines,
    send: s => child.stdin.write(s + '\n'),
    wait: (pred, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error('timeout waiting for output')),
          ms,
        )
        waiters.push({
          pred,
          resolve: o => {
            clearTimeout(t)
            resolve(o)
          },
        })
      }),
    kill: () => {
      child.kill('SIGKILL')
    },
  }
}

// --resync: time for a returning master to get N synced flows into its
// kernel (issue 18.4). One namespace: conn-syncd (real conntrack) and a peer
// (test/fixtures/resync-peer.mjs) on its loopback. The peer holds the
// daemon's start-up RESYNC-REQUEST until the daemon has started (control
// socket up, request sent), then sends its N flows; the clock runs from its
// first datagram until the namespace's conntrack count reaches N. CPU of
// the daemon (its own, and its conntrack children's) is read from
// /proc/<pid>/stat at the `go` and at the end, so start-up and resync are
// apart. The peer and the counter run at nice -20: they stand for another
// machine and the stopwatch, not for the load on this one.
//
//   --flows N          flows in the peer's table (default 10000)
//   --priority P       `none` (default), `example` (the priority lines of
//                      examples/master-node/conn-syncd/conn-syncd.conf), or
//                      conn-syncd.conf lines joined with `;`
//   --compare          runs with `none` and `example` alternately (--runs
//                      each, default 3) and writes docs/bench/conn-syncd-resync.md
//                      and .json; --modes 'none,nice -10,example' compares those
//   --busy N           N busy-loop processes (nice 0) during the runs, each
//                      bounded to --busy-s seconds (default 300), killed by PID;
//                      --warm-s S waits S seconds before the first run, so the
//                      load average (a 1-minute mean) shows them
//   --profile DIR      the daemon runs under --cpu-prof (written at its stop)
//   --daemon PATH      another build's dist/bin.js (an A/B of two versions)
if (process.argv.includes('--resync')) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name)
    return i > 0 ? process.argv[i + 1] : dflt
  }
  const N = Number(arg('--flows', '10000'))
  const compare = process.argv.includes('--compare')
  const runs = Number(arg('--runs', compare ? '3' : '1'))
  const busyN = Number(arg('--busy', '0'))
  const busyS = Number(arg('--busy-s', '300'))
  const warmS = Number(arg('--warm-s', '0'))
  const profileDir = arg('--profile', undefined)
  const exampleConf = join(
    ROOT,
    'examples/master-node/conn-syncd/conn-syncd.conf',
  )
  const examplePriority = readFileSync(exampleConf, 'utf8')
    .split('\n')
    .filter(l => /^(nice|scheduler)\s/.test(l))
  const priorityLines = p =>
    p === 'none'
      ? []
      : p === 'example'
        ? examplePriority
        : p.split(';').map(l => l.trim())
  const modes = compare
    ? arg('--modes', 'none,example')
        .split(',')
        .map(m => m.trim())
    : [arg('--priority', 'none')]

  // Busy neighbours: plain CPU hogs at nice 0, bounded in time.
  const busy = []
  for (let i = 0; i < busyN; i++) {
    const c = spawn(
      process.execPath,
      ['-e', `const e=Date.now()+${busyS * 1000};while(Date.now()<e);`],
      { stdio: 'ignore' },
    )
    track(c)
    busy.push(c)
  }
  if (warmS > 0) await sleep(Math.min(warmS, busyS / 2) * 1000)
  const ns = addNs('rs')
  /** utime+stime and cutime+cstime of a process, in ms (100 Hz ticks). */
  const cpuOf = pid => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .split(') ')[1]
      .split(' ')
    const t = i => Number(f[i]) * 10
    // The event follower (`conntrack -E`) runs all along: not reaped, so
    // not in cutime; read from its own stat.
    let follower = 0
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)) {
      try {
        const g = readFileSync(`/proc/${c}/stat`, 'utf8').split(') ')
        if (g[0].endsWith('(conntrack')) {
          const h = g[1].split(' ')
          follower += (Number(h[11]) + Number(h[12])) * 10
        }
      } catch {}
    }
    return { daemon: t(11) + t(12), conntrack: t(13) + t(14), follower }
  }
  // The stopwatch: the namespace's entry count, read inside it.
  const counter = `const fs=require('fs');const N=${N};const t0=Date.now();let last=0;
const tick=()=>{const n=Number(fs.readFileSync('/proc/sys/net/netfilter/nf_conntrack_count','utf8'));
const now=Date.now();if(n>=N){console.log(JSON.stringify({msg:'count',n,at:now}));process.exit(0)}
if(now-last>1000){last=now;console.log(JSON.stringify({msg:'progress',n,at:now}))}
if(now-t0>240000){console.log(JSON.stringify({msg:'count',n,at:now}));process.exit(1)}setTimeout(tick,2)};tick()`

  const oneRun = async (mode, i) => {
    nsx(ns, 'conntrack', '-F')
    const conf = join(dir, `rs-${i}.conf`)
    writeFileSync(
      conf,
      [
        'node m1',
        'listen 127.0.0.1:6950',
        'peer 127.0.0.1:6951',
        'auth-key bench-secret-1',
        'service 10.0.0.100:80 tcp',
        'entry-timeout 300s',
        ...priorityLines(mode),
        '',
      ].join('\n'),
    )
    const peer = proc(
      ns,
      [
        join(FIX, 'resync-peer.mjs'),
        '6951',
        '6950',
        'bench-secret-1',
        String(N),
        '10.0.0.100',
        'hold',
      ],
      true,
      -20,
    )
    await peer.wait(o => o.msg === 'listening')
    const sock = join(dir, `rs-${i}.sock`)
    const d = proc(ns, [
      ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
      arg('--daemon', join(ROOT, 'packages/conn-syncd/dist/bin.js')),
      '--config',
      conf,
      '--control',
      sock,
      ...(process.env.CS_DEBUG ? ['--log-level', 'debug'] : []),
    ])
    await d.wait(o => o.msg === 'started', 60_000)
    await peer.wait(o => o.msg === 'request held', 60_000)
    const startup = cpuOf(d.child.pid)
    const count = proc(ns, ['-e', counter], false, -20)
    await count.wait(o => o.msg === 'progress')
    const load1 = loadavg()[0]
    peer.send('go')
    const sent = await peer.wait(o => o.msg === 'sent')
    const done = await count.wait(o => o.msg === 'count', 250_000)
    // The last batch's conntrack may still be exiting: CPU once it is reaped.
    await controlRequest(sock, 'wait-ready', ['30000'], 35_000).catch(
      () => undefined,
    )
    const end = cpuOf(d.child.pid)
    const st = await controlRequest(sock, 'status').catch(e => ({
      error: String(e),
    }))
    // TERM: a profile is written on a graceful stop.
    const exited = new Promise(r => d.child.once('exit', r))
    d.child.kill('SIGTERM')
    await Promise.race([exited, sleep(15_000)])
    d.kill()
    peer.kill()
    count.kill()
    const r = {
      mode,
      priority: priorityLines(mode),
      flows: N,
      inKernel: done.n,
      ms: done.at - sent.at,
      datagrams: sent.datagrams,
      busy: busyN,
      load1,
      cpuMs: {
        startup: startup.daemon + startup.conntrack,
        resyncDaemon: end.daemon - startup.daemon,
        resyncConntrack: end.conntrack - startup.conntrack,
        resyncFollower: end.follower - startup.follower,
      },
      inEffect: st.priority,
      received: st.received,
      lost: st.lost,
      resyncRequested: st.resyncRequested,
      kernel: st.kernel,
    }
    console.log(JSON.stringify(r))
    return r
  }
  const { controlRequest } = await import('@has/daemon-kit')
  const results = []
  for (let i = 0; i < runs; i++)
    for (const mode of modes) results.push(await oneRun(mode, i))
  for (const c of busy) c.kill('SIGKILL')
  if (compare) {
    const rows = modes.map(mode => {
      const rs = results.filter(r => r.mode === mode)
      const ms = rs.map(r => r.ms).sort((a, b) => a - b)
      const med = a => a[Math.floor((a.length - 1) / 2)]
      return {
        mode,
        lines: rs[0].priority.join('; ') || '(none)',
        ms,
        median: med(ms),
        max: ms[ms.length - 1],
        daemon: med(rs.map(r => r.cpuMs.resyncDaemon).sort((a, b) => a - b)),
        conntrack: med(
          rs.map(r => r.cpuMs.resyncConntrack).sort((a, b) => a - b),
        ),
        follower: med(
          rs.map(r => r.cpuMs.resyncFollower).sort((a, b) => a - b),
        ),
        startup: med(rs.map(r => r.cpuMs.startup).sort((a, b) => a - b)),
        load: rs.map(r => r.load1.toFixed(1)).join(', '),
        complete: rs.every(r => r.inKernel >= N),
      }
    })
    const cmd = `node bench/conn-syncd.js ${process.argv
      .slice(2)
      .map(a => (/\s/.test(a) ? `'${a}'` : a))
      .join(' ')}`
    const md = `## conn-syncd: resync of ${N.toLocaleString('en')} flows, with and without priority

What: a returning master (conn-syncd, real conntrack, one namespace) gets
a peer's full table of ${N.toLocaleString('en')} flows into its kernel. The clock runs from the
peer's first datagram until the namespace's conntrack count reaches ${N.toLocaleString('en')};
the peer holds its answer until the daemon has started, so the daemon's
start-up is not in the time, and its CPU is shown apart. ${busyN} busy-loop
processes (nice 0) run on the ${cpus().length} cores during every run; the peer and the
counter run at nice -20 (they stand for another machine and a stopwatch).
Runs alternate between the settings, ${runs} each.

Command: \`${cmd}\` (root)

Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, shared with other jobs; ${new Date().toISOString().slice(0, 10)}.

| Priority (conn-syncd.conf) | runs | time, runs sorted | median | CPU daemon | CPU conntrack -R | CPU conntrack -E | start-up CPU | load average (1 min) at each run |
|---|---:|---|---:|---:|---:|---:|---:|---|
${rows
  .map(
    r =>
      `| ${r.mode === 'example' ? `the example's: \`${r.lines}\`` : r.mode === 'none' ? 'none' : `\`${r.lines}\``} | ${r.ms.length} | ${r.ms.map(x => `${x} ms`).join(', ')} | ${r.median} ms | ${r.daemon} ms | ${r.conntrack} ms | ${r.follower} ms | ${r.startup} ms | ${r.load} |`,
  )
  .join('\n')}

CPU figures are medians of /proc/<pid>/stat times (10 ms ticks) during
the resync: the daemon (all its threads), its \`conntrack -R\` batches
(reaped children) and its \`conntrack -E\` event follower; start-up is the
daemon's CPU from exec to the held request (node, modules, config,
purge), not in the time. The load average includes the busy loops
(started ${warmS} s before the first run) and other jobs on the machine.
${rows.every(r => r.complete) ? '' : '\nNot every run got all flows in within 240 s.\n'}`
    writeFileSync(join(ROOT, 'docs/bench/conn-syncd-resync.md'), md)
    writeFileSync(
      join(ROOT, 'docs/bench/conn-syncd-resync.json'),
      JSON.stringify({ command: cmd, rows, runs: results }, null, 2) + '\n',
    )
    console.log('wrote docs/bench/conn-syncd-resync.md')
  }
  process.exit(results.every(r => r.inKernel >= N) ? 0 : 1)
}
const br = addNs('br')
ip(br, 'link', 'add', 'br0', 'type', 'bridge')
ip(br, 'link', 'set', 'br0', 'up')
const addrs = {
  c: '10.79.0.1',
  m1: '10.79.0.11',
  m2: '10.79.0.12',
  n1: '10.79.0.21',
  n2: '10.79.0.22',
}
const H = {}
for (const [name, addr] of Object.entries(addrs)) {
  const ns = addNs(name)
  H[name] = ns
  plug(ns, `e${name}`, br)
  ip(ns, 'addr', 'add', `${addr}/24`, 'dev', `e${name}`)
  ip(ns, 'link', 'set', `e${name}`, 'up')
}
for (const n of ['n1', 'n2']) {
  const p = proc(H[n], [join(FIX, 'stream-server.mjs'), n])
  await p.wait(o => o.msg === 'listening')
}
const spec = JSON.stringify({
  name: `${VIP}:80`,
  address: VIP,
  port: 80,
  family: 4,
})
for (const m of ['m1', 'm2']) {
  nsx(H[m], 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
  const p = proc(H[m], [join(FIX, 'nft-harness.mjs'), spec], true)
  await p.wait(o => o.msg === 'ready')
  p.send(
    JSON.stringify(
      ['n1', 'n2'].map(n => ({
        id: addrs[n],
        host: addrs[n],
        port: 8080,
        weight: 1,
      })),
    ),
  )
  await p.wait(o => o.msg === 'updated')
}
const bin = join(ROOT, 'packages/conn-syncd/dist/bin.js')
function startSync(m) {
  const other = m === 'm1' ? addrs.m2 : addrs.m1
  const conf = join(dir, `${m}.conf`)
  writeFileSync(
    conf,
    `node ${m}\nlisten ${addrs[m]}:6950\npeer ${other}:6950\nauth-key bench-secret-1\nservice ${VIP}:80 tcp\nsync-threshold 300ms\nrefresh-interval 2s\nentry-timeout 60s\n`,
  )
  const p = proc(H[m], [
    bin,
    '--config',
    conf,
    '--control',
    join(dir, `${m}.sock`),
  ])
  // 'started' comes once the control socket listens.
  return p.wait(o => o.msg === 'started').then(() => p)
}
const { controlRequest } = await import('@has/daemon-kit')
// True once m has every stream's flow in its kernel (the event a planned
// cut must wait for; a count of held entries can include queued inserts).
async function holdsAll(m, ports) {
  try {
    const flows = await controlRequest(join(dir, `${m}.sock`), 'flows')
    const ready = new Set(
      flows.filter(f => f.src === addrs.c && f.inKernel).map(f => f.sport),
    )
    return ports.every(p => ready.has(p))
  } catch {
    return false
  }
}
const takeVip = m => {
  ip(H[m], 'addr', 'add', `${VIP}/32`, 'dev', `e${m}`)
  try {
    nsx(
      H[m],
      'arping',
      '-q',
      '-U',
      '-S',
      VIP,
      '-c',
      '2',
      '-w',
      '1',
      '-I',
      `e${m}`,
      VIP,
    )
  } catch {}
}
const dropVip = m => {
  try {
    ip(H[m], 'addr', 'del', `${VIP}/32`, 'dev', `e${m}`)
  } catch {}
}

async function run(sync) {
  for (const m of ['m1', 'm2']) {
    try {
      nsx(H[m], 'conntrack', '-F')
    } catch {}
  }
  const syncd = sync ? [await startSync('m1'), await startSync('m2')] : []
  takeVip('m1')
  const client = proc(H.c, [join(FIX, 'stream-client.mjs'), VIP, '80'], true)
  await client.wait(o => o.msg === 'client ready')
  client.send(`open A ${STREAMS} mixed`)
  const opened = await client.wait(o => o.msg === 'opened')
  const t0 = Date.now()
  if (sync) {
    while (!(await holdsAll('m2', opened.ports))) {
      if (Date.now() - t0 > 30_000) {
        console.log(
          'warning: m2 did not hold every stream within 30 s; cutting anyway',
        )
        break
      }
      await sleep(200)
    }
  } else await sleep(1000)
  ip(H.m1, 'link', 'set', 'em1', 'down')
  takeVip('m2')
  client.send('check A')
  const r = await client.wait(o => o.msg === 'checked')
  client.kill()
  for (const p of syncd) p.kill()
  ip(H.m1, 'link', 'set', 'em1', 'up')
  dropVip('m1')
  dropVip('m2')
  return { sync, opened: opened.ok, survived: r.ok, resets: r.resets }
}

const runs = []
for (let i = 0; i < RUNS; i++) {
  for (const sync of [true, false]) {
    const r = await run(sync)
    runs.push({ run: i + 1, ...r })
    console.log(
      `run ${i + 1} ${sync ? 'with sync   ' : 'without sync'}: ${r.survived}/${r.opened} survived, ${r.resets} resets`,
    )
  }
}
const sum = sync => {
  const rs = runs.filter(r => r.sync === sync)
  const s = rs.reduce((a, r) => a + r.survived, 0)
  const o = rs.reduce((a, r) => a + r.opened, 0)
  return {
    survived: s,
    opened: o,
    fraction: o ? s / o : 0,
    min: Math.min(...rs.map(r => r.survived)),
    max: Math.max(...rs.map(r => r.survived)),
  }
}
const w = sum(true)
const wo = sum(false)
const md = `## conn-syncd: streams surviving a master failover

What: ${STREAMS} long-lived TCP streams (half client-talk, half server-push)
through a VIP served by traffic-manager's nftables data plane on master m1;
m1's link is cut and the VIP moved to m2 (ip addr + gratuitous ARP); every
stream is then checked (a ping answered or a new push received within 4 s).
With sync, conn-syncd runs on both masters (sync-threshold 300 ms) and the
cut happens once m2 holds every stream; without, m2 starts from an empty
conntrack table. ${RUNS} runs each, alternating, in the same namespaces
(client, 2 masters, 2 nodes on a bridge).

Command: \`node bench/conn-syncd.js${quick ? ' --quick' : ''}\` (root)

Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, shared with other jobs; ${new Date().toISOString().slice(0, 10)}.

| Mode | runs | streams survived | fraction | min/run | max/run |
|---|---:|---:|---:|---:|---:|
| with conn-syncd | ${RUNS} | ${w.survived}/${w.opened} | ${(w.fraction * 100).toFixed(1)}% | ${w.min} | ${w.max} |
| without (control) | ${RUNS} | ${wo.survived}/${wo.opened} | ${(wo.fraction * 100).toFixed(1)}% | ${wo.min} | ${wo.max} |

Without sync, m2 meets every stream mid-flow with an empty table. A
client packet that arrives first is picked up as a new flow and DNATed at
random, so it survives only if the same node is drawn (1 in 2 here); a
node's packet that arrives first (server-push streams) matches no entry,
is delivered to m2 itself and answered with a reset.
Ratio with/without: ${wo.fraction ? (w.fraction / wo.fraction).toFixed(2) : 'n/a'}.
`
writeFileSync(join(ROOT, 'docs/bench/conn-syncd.md'), md)
writeFileSync(
  join(ROOT, 'docs/bench/conn-syncd.json'),
  JSON.stringify(
    {
      quick,
      runs: RUNS,
      streams: STREAMS,
      withSync: w,
      withoutSync: wo,
      detail: runs,
    },
    null,
    2,
  ) + '\n',
)
console.log('wrote docs/bench/conn-syncd.md')
process.exit(0)
