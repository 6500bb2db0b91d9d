// Fraction of long-lived TCP streams that survive a master failover, with
// and without conn-syncd, over 10 runs each (--quick: 2). Namespaces:
// client, two masters (nftables data plane via openNftDataPlane), two
// traffic nodes, on one bridge. Each run: 20 streams through the VIP on m1,
// wait until the standby holds them (sync runs), cut m1's link, move the
// VIP to m2 with gratuitous ARP, check every stream.
//
//   node bench/conn-syncd.js [--quick]      (root)
//   node bench/conn-syncd.js --resync [--flows 10000]   (root; see below)
//
// Writes docs/bench/conn-syncd.md and docs/bench/conn-syncd.json.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
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

// --resync [--flows N] [--nice N]: time for a returning master to get N
// synced flows into its kernel (18.4). One namespace: conn-syncd (real
// conntrack) and a peer (test/fixtures/resync-peer.mjs) on its loopback; the
// peer answers the daemon's start-up RESYNC-REQUEST with N flows; the clock
// runs from the peer's first send until `conntrack -C` in the namespace
// reaches N. --nice runs the daemon (and its conntrack children) at that
// niceness, as the example unit's Nice= does. Prints the daemon's CPU time
// (its own and its conntrack children's) for the whole run.
if (process.argv.includes('--resync')) {
  const fi = process.argv.indexOf('--flows')
  const N = fi > 0 ? Number(process.argv[fi + 1]) : 10_000
  const ns = addNs('rs')
  const conf = join(dir, 'rs.conf')
  writeFileSync(
    conf,
    'node m1\nlisten 127.0.0.1:6950\npeer 127.0.0.1:6951\nauth-key bench-secret-1\nservice 10.0.0.100:80 tcp\nentry-timeout 300s\n',
  )
  const peer = proc(ns, [
    join(FIX, 'resync-peer.mjs'),
    '6951',
    '6950',
    'bench-secret-1',
    String(N),
    '10.0.0.100',
  ])
  await peer.wait(o => o.msg === 'listening')
  const sock = join(dir, 'rs.sock')
  const ni = process.argv.indexOf('--nice')
  const d = proc(
    ns,
    [
      join(ROOT, 'packages/conn-syncd/dist/bin.js'),
      '--config',
      conf,
      '--control',
      sock,
      ...(process.env.CS_DEBUG ? ['--log-level', 'debug'] : []),
    ],
    false,
    ni > 0 ? Number(process.argv[ni + 1]) : undefined,
  )
  const sent = await peer.wait(o => o.msg === 'sent')
  let n = 0
  const limitMs = 240_000
  for (let last = 0; Date.now() - sent.at < limitMs;) {
    n = Number(nsx(ns, 'conntrack', '-C').trim())
    if (n >= N) break
    if (Date.now() - last > 5000) {
      console.log(`${n}/${N} in the kernel after ${Date.now() - sent.at} ms`)
      last = Date.now()
    }
    await sleep(10)
  }
  const ms = Date.now() - sent.at
  const { controlRequest } = await import('@has/daemon-kit')
  const st = await controlRequest(sock, 'status').catch(e => ({
    error: String(e),
  }))
  // utime, stime, cutime, cstime (fields 14-17) in clock ticks (100 Hz).
  const stat = (await import('node:fs'))
    .readFileSync(`/proc/${d.child.pid}/stat`, 'utf8')
    .split(') ')[1]
    .split(' ')
  const cpuMs = [11, 12, 13, 14].map(i => Number(stat[i]) * 10)
  console.log(
    JSON.stringify({
      flows: N,
      inKernel: n,
      ms,
      datagrams: sent.datagrams,
      load1: (await import('node:os')).loadavg()[0],
      cpuMs: { daemon: cpuMs[0] + cpuMs[1], conntrack: cpuMs[2] + cpuMs[3] },
      status: st,
    }),
  )
  if (process.env.CS_DEBUG)
    for (const l of d.lines)
      if (/asking|ready|stale/.test(l.msg))
        console.log(
          JSON.stringify({
            time: l.time,
            msg: l.msg,
            why: l.why,
            waitingFor: l.waitingFor,
          }),
        )
  d.kill()
  peer.kill()
  process.exit(n >= N ? 0 : 1)
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
