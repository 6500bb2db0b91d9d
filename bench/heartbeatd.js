#!/usr/bin/env node
// heartbeatd failover benchmark, side by side with keepalived (VRRPv3) in
// the same namespaces: two masters and a client on a bridge, a service on
// the VIP in both masters (ip_nonlocal_bind) answering with the node name.
// One run = kill -9 the daemon holding the VIP, then time until the client
// first gets an answer from the other master through the VIP (a new
// connection every 2 ms, several in flight, 300 ms timeout each). The VIP leaves the killed node's kernel at
// the same moment (a power-off; ExecStopPost= after a real crash). The
// killed daemon is restarted and the next run kills the new holder. Needs
// root (namespaces).
//   node bench/heartbeatd.js [--quick] [--runs N] [--soak SECONDS]
//                            [--soak-plan timing:SECONDS,...] [--soak-only] [--mix]
//                            [--idle SECONDS] [--idle-impls heartbeatd,keepalived,floor-node,floor-perl]
//                            [--node-flags '<node flags>'] [--bin path/to/dist/bin.js] [--profile DIR]
// --soak runs both heartbeatd nodes for SECONDS per timing with both CPUs
// saturated by busy loops and counts false failovers (peer declared dead).
// --soak-plan picks timings and durations (relaxed, default, fast,
// aggressive, extreme; e.g. default:600,aggressive:120) to find how low the
// interval goes before false failovers appear; --soak-only keeps the
// failover table of the last run (docs/bench/heartbeatd.json) and only soaks.
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import {
  mkdtempSync,
  writeFileSync,
  chmodSync,
  mkdirSync,
  existsSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machine, machineMarkdown } from './lib/machine.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
// --profile DIR: heartbeatd runs with --cpu-prof, and the idle and soak
// pairs stop with SIGTERM so that the profiles get written to DIR.
const PROFILE = args.includes('--profile')
  ? String(args[args.indexOf('--profile') + 1])
  : ''
// --bin: another build's dist/bin.js (an older commit, for before/after).
const BIN = args.includes('--bin')
  ? String(args[args.indexOf('--bin') + 1])
  : join(ROOT, 'packages', 'heartbeatd', 'dist', 'bin.js')
const quick = args.includes('--quick')
const opt = (name, dflt) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const RUNS = opt('--runs', quick ? 5 : 20)
const SOAK = opt('--soak', 0)
const SOAK_ONLY = args.includes('--soak-only')
// --idle SECONDS: CPU of an idle, healthy pair at the default timing, each
// heartbeatd with its helpers, from /proc/<pid>/stat over SECONDS.
const IDLE = opt('--idle', 0)
// --soak-impl heartbeatd|keepalived: soak only one daemon (two bench
// processes, one per daemon, soak side by side under the same mix).
const SOAK_IMPL = args.includes('--soak-impl')
  ? String(args[args.indexOf('--soak-impl') + 1])
  : ''
// --mix: besides the busy loops, load of the kinds a busy master has:
// HTTP through the VIP (network and softirq on the same links), many
// short-lived processes, and memory pressure (issue 15).
const MIX = args.includes('--mix')
// --node-flags "...": extra Node/V8 flags for heartbeatd's process (to see
// what the runtime, not our code, costs at idle).
const NODE_FLAGS = args.includes('--node-flags')
  ? String(args[args.indexOf('--node-flags') + 1])
      .split(' ')
      .filter(Boolean)
  : []
// --idle-impls heartbeatd,keepalived,floor-node,floor-perl: which of the
// idle rows to measure (default all).
const IDLE_ALL = ['heartbeatd', 'keepalived', 'floor-node', 'floor-perl']
const IDLE_IMPLS = args.includes('--idle-impls')
  ? String(args[args.indexOf('--idle-impls') + 1]).split(',')
  : IDLE_ALL
for (const n of IDLE_IMPLS)
  if (!IDLE_ALL.includes(n))
    throw new Error(
      `--idle-impls: unknown ${n} (one of ${IDLE_ALL.join(', ')})`,
    )
const planArg = args.includes('--soak-plan')
  ? String(args[args.indexOf('--soak-plan') + 1])
  : ''
const VIP = '10.78.0.50'
const P = `hbb${process.pid % 100000}`
const NS = {
  br: `${P}-br`,
  master1: `${P}-m1`,
  master2: `${P}-m2`,
  client: `${P}-cl`,
}
const dir = mkdtempSync(join(tmpdir(), 'hb-bench-'))
const children = new Set()

const ip = (...a) =>
  execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
const inNs = (ns, cmd, a) =>
  execFileSync('ip', ['netns', 'exec', ns, cmd, ...a], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString()
const sleep = ms => new Promise(r => setTimeout(r, ms))

function setup() {
  for (const ns of Object.values(NS)) {
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
  }
  ip('-n', NS.br, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', NS.br, 'link', 'set', 'br0', 'up')
  const hosts = [
    ['master1', '10.78.0.1/24'],
    ['master2', '10.78.0.2/24'],
    ['client', '10.78.0.100/24'],
  ]
  hosts.forEach(([n, addr], i) => {
    ip(
      'link',
      'add',
      'eth0',
      'netns',
      NS[n],
      'type',
      'veth',
      'peer',
      'name',
      `p${i}`,
      'netns',
      NS.br,
    )
    ip('-n', NS[n], 'addr', 'add', addr, 'dev', 'eth0')
    ip('-n', NS[n], 'link', 'set', 'eth0', 'up')
    ip('-n', NS.br, 'link', 'set', `p${i}`, 'master', 'br0')
    ip('-n', NS.br, 'link', 'set', `p${i}`, 'up')
  })
  ip(
    'link',
    'add',
    'eth1',
    'netns',
    NS.master1,
    'type',
    'veth',
    'peer',
    'name',
    'eth1',
    'netns',
    NS.master2,
  )
  ip('-n', NS.master1, 'addr', 'add', '10.78.1.1/24', 'dev', 'eth1')
  ip('-n', NS.master2, 'addr', 'add', '10.78.1.2/24', 'dev', 'eth1')
  for (const n of ['master1', 'master2']) {
    ip('-n', NS[n], 'link', 'set', 'eth1', 'up')
    inNs(NS[n], 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1'])
  }
}

function cleanup() {
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
  for (const ns of Object.values(NS)) {
    try {
      for (const pid of ip('netns', 'pids', ns).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      ip('netns', 'del', ns)
    } catch {
      /* not made */
    }
  }
  rmSync(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => {
  cleanup()
  process.exit(130)
})

/** Spawns in a namespace; collects output lines; `wait(re)` resolves on a match. */
function run(ns, cmd, a) {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...a], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const lines = []
  const waiters = new Set()
  let buf = ''
  const onData = c => {
    buf += c
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      lines.push(line)
      for (const w of waiters)
        if (w.test(line)) {
          waiters.delete(w)
          w.resolve(line)
        }
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  child.on('exit', () => children.delete(child))
  return {
    child,
    lines,
    wait(test, timeoutMs = 20_000, from = 0) {
      const hit = lines.slice(from).find(test)
      if (hit) return Promise.resolve(hit)
      return new Promise((resolve, reject) => {
        const w = {
          test,
          resolve: l => {
            clearTimeout(timer)
            resolve(l)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(
            new Error(
              `timeout waiting in ${ns} ${cmd}; last: ${lines.slice(-5).join(' | ')}`,
            ),
          )
        }, timeoutMs)
        waiters.add(w)
      })
    },
  }
}

const SERVICE = `import { createServer } from 'node:http'
const [host, name] = process.argv.slice(1)
createServer((_q, r) => r.end(name)).listen(8080, host, () => console.log('listening'))`
// A new connection every 2 ms, each with its own 300 ms timeout, several
// in flight: a connection stuck on the dead master (its SYN dropped once
// the address is gone) does not hold back the next one, so the first
// answer from the new master is timed to within the 2 ms poll.
const PROBER = `import { connect } from 'node:net'
const host = process.argv[1]
let last = ''
let inFlight = 0
const once = () => new Promise(resolve => {
  const t = Date.now()
  const s = connect({ host, port: 8080, timeout: 300 })
  let body = ''
  let done = false
  const end = (ok, b) => { if (done) return; done = true; s.destroy(); resolve({ t: Date.now(), start: t, ok, body: b }) }
  s.on('connect', () => s.write('GET / HTTP/1.0\\r\\n\\r\\n'))
  s.on('data', c => (body += c))
  s.on('end', () => end(true, body.split('\\r\\n\\r\\n')[1] ?? ''))
  s.on('timeout', () => end(false, 'timeout'))
  s.on('error', e => end(false, e.code ?? 'error'))
})
for (;;) {
  if (inFlight < 64) {
    inFlight++
    once().then(r => {
      inFlight--
      const key = r.ok + ' ' + r.body
      if (key !== last) console.log(JSON.stringify(r))
      last = key
    })
  }
  await new Promise(r => setTimeout(r, 2))
}`

// ---- daemons -------------------------------------------------------------

function hbConfig(name, t) {
  const d = join(dir, `hb-${name}`)
  mkdirSync(d, { recursive: true })
  writeFileSync(
    join(d, 'ha.cf'),
    [
      `keepalive ${t.keepalive}ms`,
      `deadtime ${t.deadtime}ms`,
      `warntime ${t.warntime}ms`,
      'initdead 2',
      'udpport 694',
      'bcast eth0',
      'ucast eth1 10.78.1.1',
      'ucast eth1 10.78.1.2',
      'node master1 master2',
      'auto_failback off',
      `state_dir ${d}/state`,
      '',
    ].join('\n'),
  )
  writeFileSync(join(d, 'authkeys'), 'auth 1\n1 sha1 bench-secret-0123456789\n')
  chmodSync(join(d, 'authkeys'), 0o600)
  writeFileSync(join(d, 'haresources'), `master1 ${VIP}/24/eth0\n`)
  return join(d, 'ha.cf')
}

const heartbeatd = t => ({
  label: `heartbeatd keepalive ${t.keepalive} ms, deadtime ${t.deadtime} ms`,
  start(name) {
    const p = run(NS[name], process.execPath, [
      ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []),
      ...NODE_FLAGS,
      BIN,
      '--config',
      hbConfig(name, t),
      '--node',
      name,
      '--control',
      join(dir, `${name}.sock`),
    ])
    return {
      p,
      kill: () => p.child.kill('SIGKILL'),
      joined: from =>
        p.wait(l => l.includes('"msg":"peer alive"'), 90_000, from),
    }
  },
  soakReady: l =>
    l.includes('"active":"master1"') && l.includes('"msg":"active node"'),
  falseFailover: /"msg":"peer dead"/,
  // A peer declared dead moves the VIP only if the LAN arbiter does not
  // hear the VIP answered elsewhere: a takeover logs its start timing.
  vipMove: /"msg":"group start timing".*"cause":"peer-dead"/,
  releaseFirst: true,
  stages: hbStages,
})

function kaConfig(name, advertS) {
  const f = join(dir, `ka-${name}.conf`)
  writeFileSync(
    f,
    `global_defs {
  router_id ${name}
  vrrp_version 3
  vrrp_garp_master_delay 1
  vrrp_garp_master_repeat 5
}
vrrp_instance VI_1 {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int ${advertS}
  virtual_ipaddress {
    ${VIP}/24 dev eth0
  }
}
`,
  )
  return f
}

const keepalived = advertMs => ({
  label: `keepalived VRRPv3 advert_int ${advertMs / 1000} s`,
  start(name) {
    const pid = join(dir, `ka-${name}`)
    // Pid files left by a SIGKILL make keepalived refuse to start.
    for (const f of ['.pid', '-vrrp.pid', '-chk.pid'])
      rmSync(`${pid}${f}`, { force: true })
    const p = run(NS[name], 'keepalived', [
      '-n',
      '-l',
      '-D',
      '-P',
      '-f',
      kaConfig(name, advertMs / 1000),
      '-p',
      `${pid}.pid`,
      '-r',
      `${pid}-vrrp.pid`,
      '-c',
      `${pid}-chk.pid`,
    ])
    return {
      p,
      // keepalived forks a VRRP child; the daemon is dead when both are.
      kill: () => {
        try {
          process.kill(
            Number(readFileSync(`${pid}-vrrp.pid`, 'utf8')),
            'SIGKILL',
          )
        } catch {
          /* gone */
        }
        p.child.kill('SIGKILL')
      },
      joined: from =>
        p.wait(l => /Entering BACKUP STATE/.test(l), 90_000, from),
    }
  },
  soakReady: l => /Entering MASTER STATE/.test(l),
  // The backup declaring the master down; the same event as heartbeatd's.
  falseFailover: /Entering MASTER STATE/,
})

// ---- the floor: the same datagrams with no logic ---------------------------
// What the wire pattern alone costs a process at the default timing: a
// broadcast on eth0 and a unicast on eth1 every keepalive, each received
// by the peer (and the broadcast by ourselves), 100 bytes, nothing
// checked. In Node (the runtime heartbeatd pays for) and in perl (what a
// helper outside Node would pay): idle CPU is judged against these.
const FLOOR_NODE = `
const dgram = require('node:dgram')
const [peer, ms] = [process.argv[1], Number(process.argv[2])]
const r = dgram.createSocket({ type: 'udp4', reuseAddr: true })
let heard = false
r.on('message', (m, ri) => {
  if (!heard && ri.address === peer) { heard = true; console.log('peer heard') }
})
r.bind(694, () => {
  const b = dgram.createSocket('udp4')
  b.bind(0, () => {
    b.setBroadcast(true)
    const u = dgram.createSocket('udp4')
    const buf = Buffer.alloc(100, 65)
    setInterval(() => {
      b.send(buf, 694, '10.78.0.255')
      u.send(buf, 694, peer)
    }, ms)
    console.log('floor ready')
  })
})`
const FLOOR_PERL = `
use strict; use Socket qw(:all); use Time::HiRes qw(time);
my ($peer, $ms) = @ARGV; $| = 1;
socket(my $r, AF_INET, SOCK_DGRAM, 0) or die;
setsockopt($r, SOL_SOCKET, SO_REUSEADDR, 1);
bind($r, pack_sockaddr_in(694, INADDR_ANY)) or die "bind: $!";
socket(my $s, AF_INET, SOCK_DGRAM, 0) or die;
setsockopt($s, SOL_SOCKET, SO_BROADCAST, 1);
my $bc = pack_sockaddr_in(694, inet_aton('10.78.0.255'));
my $uc = pack_sockaddr_in(694, inet_aton($peer));
my $buf = 'A' x 100; my $next = time() + $ms / 1000; my $heard = 0;
print "floor ready\n";
for (;;) {
  my $rin = ''; vec($rin, fileno($r), 1) = 1;
  my $w = $next - time(); $w = 0 if $w < 0;
  if (select(my $o = $rin, undef, undef, $w) > 0) {
    my $from = recv($r, my $m, 2048, 0);
    my ($port, $a) = unpack_sockaddr_in($from);
    if (!$heard && inet_ntoa($a) eq $peer) { $heard = 1; print "peer heard\n" }
  }
  if (time() >= $next) { send($s, $buf, 0, $bc); send($s, $buf, 0, $uc); $next += $ms / 1000 }
}`
const floor = (lang, keepalive) => ({
  label: `floor: ${lang}, the same datagrams, no logic`,
  start(name) {
    const peer = name === 'master1' ? '10.78.1.2' : '10.78.1.1'
    const p =
      lang === 'node'
        ? run(NS[name], process.execPath, [
            '-e',
            FLOOR_NODE,
            peer,
            String(keepalive),
          ])
        : run(NS[name], 'perl', ['-e', FLOOR_PERL, peer, String(keepalive)])
    return {
      p,
      kill: () => p.child.kill('SIGKILL'),
      joined: from => p.wait(l => l === 'peer heard', 30_000, from),
    }
  },
  soakReady: l => l === 'floor ready',
})

// ---- measurement ----------------------------------------------------------

/** Removes the VIP from a master's kernel; resolves once it is gone. */
function ipDel(n) {
  return new Promise(resolve => {
    const c = spawn(
      'ip',
      ['-n', NS[n], 'addr', 'del', `${VIP}/24`, 'dev', 'eth0'],
      { stdio: 'ignore' },
    )
    c.on('close', resolve)
    c.on('error', resolve)
  })
}

async function failovers(impl, runs) {
  const probe = run(NS.client, process.execPath, [
    '--input-type=module',
    '-e',
    PROBER,
    VIP,
  ])
  const d = { master1: impl.start('master1') }
  await probe.wait(l => l.includes('"body":"master1"'), 30_000)
  d.master2 = impl.start('master2')
  await d.master2.joined(0)
  await sleep(300)
  let owner = 'master1'
  const times = []
  const stages = []
  let aborted
  for (let i = 0; i < runs && !aborted; i++) {
    try {
      const other = owner === 'master1' ? 'master2' : 'master1'
      const from = probe.lines.length
      const survivorFrom = d[other].p.lines.length
      // heartbeatd: the killed node's kernel loses the VIP too, as a
      // powered-off master's would (and as heartbeatd's unit does after a
      // crash with ExecStopPost=heartbeatd --release-resources). Without it
      // heartbeatd's LAN arbiter rightly sees the VIP still answered and
      // does not take over. The address goes first and the clock starts at
      // the kill: spawning `ip` on a loaded machine takes tens of ms, and a
      // power-off takes none. keepalived reacts to its VIP being removed
      // (the backup takes over before the kill), so its VIP stays until
      // the run is measured, as before; its clients meanwhile get answers
      // from the killed node's kernel, which the run does not count.
      if (impl.releaseFirst) await ipDel(owner)
      const killedAt = Date.now()
      d[owner].kill()
      const line = await probe.wait(
        l => l.includes(`"ok":true,"body":"${other}"`),
        30_000,
        from,
      )
      const ms = JSON.parse(line).t - killedAt
      times.push(ms)
      const st = impl.stages?.(
        d[other].p.lines.slice(survivorFrom),
        killedAt,
        ms,
      )
      if (st) stages.push(st)
      console.log(
        `  ${impl.label}: run ${i + 1}/${runs} ${owner} -> ${other}: ${ms} ms` +
          (st
            ? ` (${Object.entries(st)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : ''),
      )
      if (process.env.HB_BENCH_DEBUG) {
        for (const l of d[other].p.lines.slice(-8)) {
          try {
            const j = JSON.parse(l)
            console.log(
              `    +${j.time - killedAt} ms ${j.msg} ${JSON.stringify(j).slice(0, 300)}`,
            )
          } catch {
            /* keepalived text */
          }
        }
      }
      if (!impl.releaseFirst) await ipDel(owner)
      const n = owner
      d[n] = impl.start(n)
      await d[n].joined(0)
      await sleep(300)
      owner = other
    } catch (e) {
      // Under heavy load the pair may flap; keep what was measured.
      aborted = `run ${i + 1}: ${String(e.message).split(';')[0]}`
      console.log(`  ${impl.label}: aborted at ${aborted}`)
    }
  }
  for (const x of Object.values(d)) x.kill()
  probe.child.kill('SIGKILL')
  await sleep(200)
  for (const n of ['master1', 'master2']) {
    try {
      ip('-n', NS[n], 'addr', 'del', `${VIP}/24`, 'dev', 'eth0')
    } catch {
      /* not there */
    }
  }
  const sorted = [...times].sort((a, b) => a - b)
  const median =
    sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]
      : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
  const med = xs => {
    const v = [...xs].sort((a, b) => a - b)
    return v.length ? v[Math.floor((v.length - 1) / 2)] : NaN
  }
  const stageMedians = stages.length
    ? Object.fromEntries(
        Object.keys(stages[0]).map(k => [k, med(stages.map(x => x[k]))]),
      )
    : undefined
  return {
    label: impl.label,
    runs: times.length,
    median,
    max: sorted.at(-1),
    min: sorted[0],
    times,
    ...(stageMedians ? { stages: stageMedians } : {}),
    ...(aborted ? { aborted } : {}),
  }
}

/**
 * Where one takeover's milliseconds went, from the survivor's "group start
 * timing" log line (monotonic stage lengths) and the client's answer time:
 * kill -> declared dead, decision, address added, first announcement sent,
 * rest of the group, and first announcement -> the client's first answer.
 */
function hbStages(lines, killedAt, total) {
  for (const l of lines) {
    if (!l.includes('"msg":"group start timing"')) continue
    const j = JSON.parse(l)
    if (j.cause !== 'peer-dead') continue
    const done = Date.parse(j.time)
    const dead = done - (j.totalMs - j.detectionMs)
    const r = x => Math.round(x * 10) / 10
    const killToDead = r(dead - killedAt)
    const toAnnounce =
      killToDead + j.decisionMs + j.queuedMs + j.addressMs + j.announceMs
    return {
      killToDead,
      silence: j.detectionMs,
      decision: r(j.decisionMs + j.queuedMs),
      address: j.addressMs,
      announce: j.announceMs,
      resources: j.resourcesMs,
      toClient: r(total - toAnnounce),
    }
  }
  return undefined
}

/** utime + stime (clock ticks) of a process and its descendants. */
// CPU ticks of a process and its descendants; by command name in `by`.
function treeTicks(pid, by = new Map()) {
  let ticks = 0
  const todo = [pid]
  while (todo.length) {
    const p = todo.pop()
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const n = Number(f[11]) + Number(f[12])
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      ticks += n
      by.set(comm, (by.get(comm) ?? 0) + n)
      for (const t of readdirSync(`/proc/${p}/task`))
        todo.push(
          ...readFileSync(`/proc/${p}/task/${t}/children`, 'utf8')
            .split(' ')
            .filter(Boolean)
            .map(Number),
        )
    } catch {
      /* gone */
    }
  }
  return ticks
}

/** SIGTERM (a profile is written only on a clean exit), bounded wait. */
async function stopForProfile(...ds) {
  await Promise.all(
    ds.map(
      d =>
        new Promise(resolve => {
          if (d.p.child.exitCode !== null) return resolve()
          const t = setTimeout(() => {
            console.log('  profile: a daemon did not exit within 10 s')
            resolve()
          }, 10_000)
          d.p.child.once('exit', () => {
            clearTimeout(t)
            resolve()
          })
          d.p.child.kill('SIGTERM')
        }),
    ),
  )
}

async function idleCpu(impl, seconds) {
  const d1 = impl.start('master1')
  await d1.p.wait(impl.soakReady, 30_000)
  const d2 = impl.start('master2')
  await d2.joined(0)
  await sleep(2000)
  const hz =
    Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  const pids = [d1.p.child.pid, d2.p.child.pid]
  const byBefore = pids.map(() => new Map())
  const before = pids.map((p, i) => treeTicks(p, byBefore[i]))
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const wall = (performance.now() - t0) / 1000
  const round = t => Math.round((t / hz / wall) * 10000) / 100
  const byAfter = pids.map(() => new Map())
  const pct = pids.map((p, i) => round(treeTicks(p, byAfter[i]) - before[i]))
  // Which process of the tree the idle CPU goes to (holder's tree).
  const split = [...byAfter[0]].map(([comm, t]) => [
    comm,
    round(t - (byBefore[0].get(comm) ?? 0)),
  ])
  if (PROFILE) await stopForProfile(d1, d2)
  d1.kill()
  d2.kill()
  await sleep(300)
  for (const n of ['master1', 'master2']) {
    try {
      ip('-n', NS[n], 'addr', 'del', `${VIP}/24`, 'dev', 'eth0')
    } catch {
      /* not there */
    }
  }
  const r = {
    label: impl.label,
    seconds,
    holderPct: pct[0],
    standbyPct: pct[1],
    holderSplit: Object.fromEntries(split),
    loadAfter: loadavg()[0],
  }
  console.log(
    `  idle ${r.label}: holder ${r.holderPct} %, standby ${r.standbyPct} % of a core over ${seconds} s (holder: ${split.map(([c, v]) => `${c} ${v} %`).join(', ')})`,
  )
  return r
}

async function soak(impl, seconds) {
  const d1 = impl.start('master1')
  await d1.p.wait(impl.soakReady, 30_000)
  const d2 = impl.start('master2')
  await d2.joined(0)
  await sleep(500)
  // Busy loops at the same priority as a default process, two per CPU.
  const hogs = []
  for (let i = 0; i < cpus().length * 2; i++) {
    const h = spawn(
      process.execPath,
      [
        '-e',
        `const end = Date.now() + ${seconds * 1000}; while (Date.now() < end) {}`,
      ],
      { stdio: 'ignore' },
    )
    children.add(h)
    hogs.push(h)
  }
  if (MIX) {
    const end = `const end = Date.now() + ${seconds * 1000};`
    const mix = [
      // Connections through the VIP as fast as they go, 16 at a time.
      run(NS.client, process.execPath, [
        '--input-type=module',
        '-e',
        `import { connect } from 'node:net'
${end}
const one = () => new Promise(r => { const s = connect({ host: '${VIP}', port: 8080, timeout: 200 }); s.on('connect', () => s.end('GET / HTTP/1.0\\r\\n\\r\\n')); s.on('close', r); s.on('error', r); s.on('timeout', () => s.destroy()); s.resume() })
await Promise.all(Array.from({ length: 16 }, async () => { while (Date.now() < end) await one() }))`,
      ]),
      // Short-lived processes, one after another.
      spawn(
        'sh',
        [
          '-c',
          `end=$(($(date +%s) + ${seconds})); while [ $(date +%s) -lt $end ]; do /bin/true; done`,
        ],
        { stdio: 'ignore' },
      ),
      // 1 GiB touched again and again.
      spawn(
        process.execPath,
        [
          '-e',
          `${end} const b = Buffer.alloc(1 << 30); let i = 0; while (Date.now() < end) { b[i] = 1; i = (i + 4096) % b.length }`,
        ],
        { stdio: 'ignore' },
      ),
    ]
    for (const c of mix) {
      const ch = c.child ?? c
      children.add(ch)
      hogs.push(ch)
    }
  }
  const from = [d1.p.lines.length, d2.p.lines.length]
  await sleep(seconds * 1000)
  const count = re =>
    d1.p.lines.slice(from[0]).filter(l => re.test(l)).length +
    d2.p.lines.slice(from[1]).filter(l => re.test(l)).length
  const r = {
    label: impl.label,
    seconds,
    hogs: hogs.length,
    mix: MIX,
    falseFailovers: count(impl.falseFailover),
    vipMoves: count(impl.vipMove ?? impl.falseFailover),
    // heartbeatd says how long the peer had been silent when declared dead.
    silencesMs: [...d1.p.lines.slice(from[0]), ...d2.p.lines.slice(from[1])]
      .filter(l => impl.falseFailover.test(l) && l.includes('"silentMs"'))
      .map(l => JSON.parse(l).silentMs),
    loadAfter: loadavg()[0],
  }
  for (const h of hogs) h.kill('SIGKILL')
  if (PROFILE) await stopForProfile(d1, d2)
  d1.kill()
  d2.kill()
  await sleep(300)
  for (const n of ['master1', 'master2']) {
    try {
      ip('-n', NS[n], 'addr', 'del', `${VIP}/24`, 'dev', 'eth0')
    } catch {
      /* not there */
    }
  }
  console.log(
    `  soak ${r.label}: ${r.falseFailovers} false failovers (VIP moved ${r.vipMoves}) in ${seconds} s` +
      (r.silencesMs.length
        ? ` (silence when declared dead: ${r.silencesMs.join(', ')} ms)`
        : ''),
  )
  return r
}

// ---- main -----------------------------------------------------------------

const DEFAULT = { keepalive: 30, deadtime: 100, warntime: 60 }
const AGGRESSIVE = { keepalive: 10, deadtime: 35, warntime: 20 }
const TIMINGS = {
  relaxed: { keepalive: 100, deadtime: 500, warntime: 300 },
  default: DEFAULT,
  fast: { keepalive: 20, deadtime: 70, warntime: 40 },
  aggressive: AGGRESSIVE,
  extreme: { keepalive: 5, deadtime: 20, warntime: 12 },
}
const soakPlan = planArg
  ? planArg.split(',').map(e => {
      const [name, secs] = e.split(':')
      const t = TIMINGS[name]
      if (!t || !(Number(secs) > 0))
        throw new Error(
          `--soak-plan: bad entry ${e} (timings: ${Object.keys(TIMINGS).join(', ')})`,
        )
      return { t, seconds: Number(secs) }
    })
  : SOAK > 0
    ? ['relaxed', 'default', 'aggressive'].map(n => ({
        t: TIMINGS[n],
        seconds: SOAK,
      }))
    : []
const m = machine()
// machine() reads `keepalived -v` from stdout; Debian's prints to stderr.
if (!m.keepalived) {
  const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8' })
  m.keepalived =
    (/Keepalived v(\S+)/.exec(`${r.stdout}${r.stderr}`) ?? [])[1] ?? 'unknown'
}
const startedLoad = loadavg()
  .map(x => x.toFixed(2))
  .join(' ')
const results = []
const soaks = []
let idle
let failoverCmd
try {
  setup()
  for (const n of ['master1', 'master2']) {
    await run(NS[n], process.execPath, [
      '--input-type=module',
      '-e',
      SERVICE,
      VIP,
      n,
    ]).wait(l => l === 'listening')
  }
  if (SOAK_ONLY) {
    const last = JSON.parse(
      readFileSync(join(ROOT, 'docs', 'bench', 'heartbeatd.json'), 'utf8'),
    )
    results.push(...last.results)
    failoverCmd = last.command
  }
  for (const impl of SOAK_ONLY
    ? []
    : [
        heartbeatd(DEFAULT),
        keepalived(DEFAULT.keepalive),
        heartbeatd(AGGRESSIVE),
        keepalived(AGGRESSIVE.keepalive),
      ]) {
    try {
      results.push(await failovers(impl, RUNS))
    } catch (e) {
      results.push({
        label: impl.label,
        runs: 0,
        median: NaN,
        max: NaN,
        min: NaN,
        times: [],
        aborted: String(e.message).split(';')[0],
      })
    }
  }
  if (IDLE > 0) {
    const impls = {
      heartbeatd: () => heartbeatd(DEFAULT),
      keepalived: () => keepalived(DEFAULT.keepalive),
      'floor-node': () => floor('node', DEFAULT.keepalive),
      'floor-perl': () => floor('perl', DEFAULT.keepalive),
    }
    idle = []
    for (const name of IDLE_IMPLS) idle.push(await idleCpu(impls[name](), IDLE))
  }
  {
    for (const { t, seconds } of soakPlan) {
      for (const impl of [heartbeatd(t), keepalived(t.keepalive)].filter(
        i => !SOAK_IMPL || i.label.startsWith(SOAK_IMPL),
      )) {
        try {
          soaks.push(await soak(impl, seconds))
        } catch (e) {
          console.log(`  soak ${impl.label} failed: ${e.message}`)
        }
      }
    }
  }
} finally {
  cleanup()
}

const ratio = (a, b) => (b.median ? (a.median / b.median).toFixed(2) : 'n/a')
const cmd = `node bench/heartbeatd.js${quick ? ' --quick' : ''}${MIX ? ' --mix' : ''}${args.includes('--runs') ? ` --runs ${RUNS}` : ''}${SOAK ? ` --soak ${SOAK}` : ''}${planArg ? ` --soak-plan ${planArg}` : ''}${SOAK_ONLY ? ' --soak-only' : ''}${IDLE ? ` --idle ${IDLE}` : ''}${args.includes('--idle-impls') ? ` --idle-impls ${IDLE_IMPLS.join(',')}` : ''}${NODE_FLAGS.length ? ` --node-flags '${NODE_FLAGS.join(' ')}'` : ''}${SOAK_IMPL ? ` --soak-impl ${SOAK_IMPL}` : ''}${args.includes('--bin') ? ` --bin ${BIN}` : ''}${PROFILE ? ` --profile ${PROFILE}` : ''}`
const md = [
  '## heartbeatd: failover time',
  '',
  'What: two master namespaces and a client namespace on a bridge (its own namespace), a direct',
  'veth between the masters as a second heartbeat path, a service on the VIP in both masters',
  '(ip_nonlocal_bind) answering with the node name. A run kills the daemon holding the VIP with',
  'SIGKILL and measures the time until the client first gets an answer from the *other* master',
  'through the VIP (a new connection every 2 ms, up to 64 in flight, 300 ms timeout each, so one',
  'stuck on the dead master does not delay the next). The killed daemon is then',
  'restarted and the next run kills the new holder. For heartbeatd the VIP is removed from the',
  "holder's kernel just before the kill, as a power-off would (and as `ExecStopPost=heartbeatd",
  "--release-resources` does after a real crash, later): heartbeatd's LAN arbiter does not take over a",
  'VIP that still answers elsewhere. keepalived reacts to that removal itself (its backup takes over',
  "before the kill), so its VIP stays in the killed node's kernel until the run is measured. The clock",
  'starts at the kill.',
  'keepalived runs VRRPv3 in the same namespaces, same VIP, `nopreempt`, equal priority, at the same',
  "advertisement interval as heartbeatd's keepalive.",
  '',
  `Command: \`${cmd}\` (as root). Load average at start: ${startedLoad} (the machine is shared).`,
  '',
  '| daemon and timing | runs | median (ms) | max (ms) | min (ms) | median vs keepalived |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...results.map(
    (r, i) =>
      `| ${r.label} | ${r.runs}${r.aborted ? ' (aborted)' : ''} | ${r.median} | ${r.max} | ${r.min} | ${i % 2 ? '1.00' : ratio(r, results[i + 1])} |`,
  ),
  '',
  ...(results.some(r => r.stages)
    ? [
        "Where heartbeatd's milliseconds go (median of each stage over the runs, ms). kill -> dead:",
        'from SIGKILL to the survivor declaring the peer dead (silence is how long the peer had been',
        'silent then); decision: from that to the agent call; address: `ip address add` through the',
        'long-lived `ip -batch`; announce: until the first gratuitous ARP has left the long-lived',
        'announcer; rest: the other resources of the group; to client: from the first announcement',
        "to the client's first answer (ARP update, 2 ms connect poll).",
        '',
        '| daemon and timing | kill -> dead | silence | decision | address | announce | rest | to client |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        ...results
          .filter(r => r.stages)
          .map(
            r =>
              `| ${r.label} | ${r.stages.killToDead} | ${r.stages.silence} | ${r.stages.decision} | ${r.stages.address} | ${r.stages.announce} | ${r.stages.resources} | ${r.stages.toClient} |`,
          ),
        '',
      ]
    : []),
  ...results
    .filter(r => r.aborted)
    .map(
      r =>
        `- ${r.label}: stopped early at ${r.aborted} (the pair flapped under the machine's load).`,
    ),
  '',
  'VRRP declares the master down after 3 x advert_int + skew ((256 - 100) / 256 x advert_int),',
  'about 108 ms at 30 ms and 36 ms at 10 ms; heartbeatd after deadtime (100 ms and 35 ms).',
  '',
  ...(soaks.length
    ? [
        `False failovers with both CPUs saturated (${cpus().length * 2} busy loops at normal priority${soaks[0].mix ? '; plus, with `--mix`, 16 parallel HTTP connection loops through the VIP from the client namespace, a loop of short-lived processes and 1 GiB of memory touched continuously' : ''}; heartbeatd with its`,
        'default `realtime on`; keepalived with its defaults). heartbeatd counts "peer dead" on either node',
        '(false failovers) and takeovers after one (VIP moved: a "peer dead" the LAN arbiter did not stop);',
        'keepalived "Entering MASTER STATE" on either node after both were settled (both columns):',
        '',
        ...(failoverCmd
          ? [
              `The failover table above is from \`${failoverCmd}\`; the soak below from \`${cmd}\`.`,
              '',
            ]
          : []),
        'keepalived can also be given realtime priority (`vrrp_rt_priority`); that was not set here,',
        "heartbeatd's `realtime on` is its default. The issue's target: zero false failovers at the",
        'default timings during 10 minutes (600 s) with both CPUs saturated.',
        '',
        '| daemon and timing | seconds | false failovers | VIP moved | load 1 min after |',
        '| --- | ---: | ---: | ---: | ---: |',
        ...soaks.map(
          s =>
            `| ${s.label} | ${s.seconds} | ${s.falseFailovers} | ${s.vipMoves ?? s.falseFailovers} | ${s.loadAfter.toFixed(2)} |`,
        ),
        '',
        (() => {
          // Soaks run from the slowest timing to the fastest.
          const hb = soaks.filter(s => s.label.startsWith('heartbeatd'))
          const name = s => s.label.replace('heartbeatd ', '')
          const first = hb.findIndex(s => s.falseFailovers > 0)
          if (first < 0)
            return `heartbeatd had no false failover under saturation at any timing soaked (down to ${hb.length ? name(hb.at(-1)) : '-'}).`
          const after = hb.slice(first + 1)
          return (
            `heartbeatd had no false failover under saturation down to ${first > 0 ? name(hb[first - 1]) : '(none)'}; the first came at ${name(hb[first])} (${hb[first].falseFailovers} in ${hb[first].seconds} s)` +
            (after.length && after.every(s => s.falseFailovers === 0)
              ? `, while ${after.map(name).join(', ')} had none in ${after[0].seconds} s: at these rates a false failover is a matter of chance, so the reliable floor is the last timing above.`
              : '.')
          )
        })(),
        '',
      ]
    : [
        'The saturated-CPU false-failover run (`--soak SECONDS`) was not part of this run.',
        '',
      ]),
  ...(idle
    ? [
        `Idle CPU of a healthy pair at the default timing, from /proc/<pid>/stat over ${idle[0].seconds} s, each daemon`,
        'with its helpers (heartbeatd: `ip -batch`, the announcer, the LAN arbiter; keepalived: its VRRP',
        'child), in % of one core (target for heartbeatd: < 1 %):',
        '',
        '| daemon | holder | standby | holder, by process |',
        '| --- | ---: | ---: | --- |',
        ...idle.map(
          r =>
            `| ${r.label} | ${r.holderPct} | ${r.standbyPct} | ${Object.entries(
              r.holderSplit,
            )
              .map(([c, v]) => `${c} ${v}`)
              .join(', ')} |`,
        ),
        '',
        `Load average after: ${idle.at(-1).loadAfter.toFixed(2)}.`,
        '',
      ]
    : []),
  machineMarkdown(m),
  '',
].join('\n')
// The analyses below the marker are kept by hand (dated runs, what was
// tried): a re-run rewrites only what is above it.
const HAND_KEPT =
  '<!-- Kept by hand below: bench/heartbeatd.js rewrites only what is above this line. -->'
const mdPath = join(ROOT, 'docs', 'bench', 'heartbeatd.md')
const previous = existsSync(mdPath) ? readFileSync(mdPath, 'utf8') : ''
const kept = previous.includes(HAND_KEPT)
  ? previous.slice(previous.indexOf(HAND_KEPT))
  : ''
writeFileSync(mdPath, kept ? `${md}\n${kept}` : md)
writeFileSync(
  join(ROOT, 'docs', 'bench', 'heartbeatd.json'),
  JSON.stringify(
    {
      command: cmd,
      machine: m,
      loadAtStart: startedLoad,
      results,
      soaks,
      ...(idle ? { idle } : {}),
    },
    null,
    2,
  ) + '\n',
)
console.log(md)
