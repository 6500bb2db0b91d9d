#!/usr/bin/env node
// Footprint of every has daemon (issue 9 item 4): resident memory and CPU
// share after a period idle (60 s, --quick: 10 s), all daemons at once, each
// with a small realistic config; then traffic-manager's CPU time per 1,000
// requests through its userspace proxy (wrk, bounded by duration). Targets:
// under 80 MB RSS and under 1% of a core idle.
//
// erd, radvd-lite, heartbeatd and conn-syncd need interfaces (or touch
// conntrack/nftables): they run in a network namespace made here and deleted
// at the end (root). Everything else stays on loopback. Every process is
// started here and killed by PID.
//   node bench/footprint.js [--quick]
import { execFileSync } from 'node:child_process'
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  readFileSync,
  chmodSync,
  rmSync,
  existsSync,
} from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { writeProcfsFixture } from '@has/traffic-client'
import {
  start,
  stop,
  stopAll,
  waitOutput,
  bin,
  treeUsage,
  procUsage,
  freePort,
  ROOT,
} from './lib/procs.js'
import { machine, machineMarkdown } from './lib/machine.js'
import { barChart } from './lib/svg.js'
import { check } from './lib/targets.js'

const quick = process.argv.includes('--quick')
const IDLE_S = quick ? 10 : 60
const LOAD_S = quick ? 5 : 10
const RSS_TARGET_MB = 80
const CPU_TARGET_PCT = 1
const root = process.getuid?.() === 0
const dir = mkdtempSync(join(tmpdir(), 'has-footprint-'))
const NS = `hasfp${process.pid % 100000}`
// Rows measured for comparison only: no target applies to them.
const REFERENCE = 'reference: '
const hasCommand = c => {
  try {
    sh('sh', ['-c', `command -v ${c}`])
    return true
  } catch {
    return false
  }
}
const sleep = ms => new Promise(r => setTimeout(r, ms))
const sh = (cmd, args) =>
  execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
const node = (args, ns) =>
  ns
    ? start('ip', ['netns', 'exec', ns, process.execPath, ...args])
    : start(process.execPath, args)

let nsMade = false
function makeNetns() {
  sh('ip', ['netns', 'add', NS])
  nsMade = true
  const ipn = (...a) => sh('ip', ['-n', NS, ...a])
  ipn('link', 'set', 'lo', 'up')
  sh('ip', [
    'netns',
    'exec',
    NS,
    'sysctl',
    '-qw',
    'net.ipv6.conf.all.forwarding=1',
    'net.ipv6.conf.default.accept_dad=0',
  ])
  // erd's two NICs (veth pairs: this kernel has no dummy driver), and a
  // veth pair for radvd-lite's LAN.
  for (const [i, a] of [
    ['eth0', '10.91.0.1/24'],
    ['eth1', '10.91.1.1/24'],
  ]) {
    ipn('link', 'add', i, 'type', 'veth', 'peer', 'name', `${i}p`)
    ipn('addr', 'add', a, 'dev', i)
    ipn('link', 'set', i, 'up')
    ipn('link', 'set', `${i}p`, 'up')
  }
  ipn('link', 'add', 'lan1', 'type', 'veth', 'peer', 'name', 'lan1p')
  ipn('link', 'set', 'lan1', 'up')
  ipn('link', 'set', 'lan1p', 'up')
}
function deleteNetns() {
  if (!nsMade) return
  try {
    for (const pid of sh('ip', ['netns', 'pids', NS])
      .split(/\s+/)
      .filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        /* gone */
      }
    }
  } catch {
    /* none */
  }
  try {
    sh('ip', ['netns', 'del', NS])
  } catch {
    /* gone */
  }
  nsMade = false
}

const file = (name, text, mode) => {
  const f = join(dir, name)
  writeFileSync(f, text)
  if (mode) chmodSync(f, mode)
  return f
}

// ---- the daemons, each in a small realistic configuration ---------------
async function startDaemons() {
  const d = {}
  const key = 'footprint-bench-shared-key'
  const reportPort = await freePort('udp')
  const vipPort = await freePort()
  const webPort = await freePort()
  const nodes = ['127.0.0.61', '127.0.0.62']
  const web = nodes.map((ip, i) =>
    node([
      join(ROOT, 'examples', 'local-cluster', 'node-server.js'),
      '--host',
      ip,
      '--port',
      String(webPort),
      '--name',
      `node${i + 1}`,
    ]),
  )
  await Promise.all(web.map(w => waitOutput(w, /listening/)))

  const tmConf = file(
    'tmd.conf',
    [
      'master1 127.0.0.1',
      ...nodes.map((ip, i) => `traffic${i + 1} ${ip}`),
      `port ${reportPort}`,
      'listen 127.0.0.1',
      'timeout 3000',
      `key ${key}`,
      'workers auto',
      `virtual 127.0.0.1:${vipPort}`,
      '    scheduler p2c',
      ...nodes.map(ip => `    node ${ip}:${webPort}`),
      '',
    ].join('\n'),
  )
  d['traffic-manager'] = node([
    bin('traffic-manager'),
    '-c',
    tmConf,
    '--control',
    join(dir, 'tm.sock'),
    '--log-level',
    'warn',
  ])
  await waitOutput(d['traffic-manager'], /./, 500).catch(() => {}) // warn level: usually silent

  nodes.forEach((ip, i) => {
    const procfs = join(dir, `proc${i}`)
    writeProcfsFixture(procfs, {
      bogomips: 4000,
      cpus: 2,
      memTotalMB: 4096,
      memFreeMB: 3000,
      idleShare: 0.9,
    })
    const conf = file(
      `tcd${i}.conf`,
      [
        'master1 127.0.0.1',
        `port ${reportPort}`,
        'updates 500',
        `key ${key}`,
        `node ${ip}`,
        '',
      ].join('\n'),
    )
    const c = node([
      bin('traffic-client'),
      '-c',
      conf,
      '--procfs',
      procfs,
      '--control',
      join(dir, `tc${i}.sock`),
      '--log-level',
      'warn',
    ])
    if (i === 0) d['traffic-client'] = c
  })

  // The same manager without proxy workers (the data plane in the main
  // process): one process instead of 1 + cores.
  const tm0Conf = file(
    'tmd0.conf',
    [
      'master1 127.0.0.1',
      ...nodes.map((ip, i) => `traffic${i + 1} ${ip}`),
      'port 0',
      'listen 127.0.0.1',
      'timeout 3000',
      `key ${key}`,
      'workers 0',
      `virtual 127.0.0.1:${await freePort()}`,
      '    scheduler p2c',
      ...nodes.map(ip => `    node ${ip}:${webPort}`),
      '',
    ].join('\n'),
  )
  d['traffic-manager (workers 0, no reports)'] = node([
    bin('traffic-manager'),
    '-c',
    tm0Conf,
    '--control',
    join(dir, 'tm0.sock'),
    '--log-level',
    'warn',
  ])

  if (existsSync(bin('ldirectord'))) {
    const cf = file(
      'ldirectord.cf',
      [
        'checkinterval = 2',
        'checktimeout = 3',
        'failurecount = 2',
        'quiescent = yes',
        `virtual = 127.0.0.1:${vipPort}`,
        `    real = ${nodes[0]}:${webPort} masq`,
        `    real = ${nodes[1]}:${webPort} masq`,
        '    service = http',
        '    request = "/"',
        '    receive = "node"',
        '    scheduler = wrr',
        '    checktype = negotiate',
        '',
      ].join('\n'),
    )
    d.ldirectord = node([
      bin('ldirectord'),
      '-c',
      cf,
      '--control',
      join(dir, 'ld.sock'),
      '--log-level',
      'warn',
    ])
  }

  if (existsSync(bin('ha-nfs-mount'))) {
    const src = join(dir, 'sync-src'),
      dst = join(dir, 'sync-dst')
    mkdirSync(src)
    mkdirSync(dst)
    for (let i = 0; i < 100; i++)
      writeFileSync(join(src, `f${i}`), `file ${i}\n`)
    d['ha-nfs-mount (sync)'] = node([
      bin('ha-nfs-mount'),
      'sync',
      src,
      dst,
      '--control',
      join(dir, 'hnm.sock'),
      '--log-level',
      'warn',
    ])
  }

  if (existsSync(bin('heartbeatd'))) {
    const hb = join(dir, 'hb')
    mkdirSync(join(hb, 'rd'), { recursive: true })
    const hbPort = await freePort('udp')
    // The example's timings (keepalive 30 ms): the busiest idle setting.
    const cf = file(
      'hb/ha.cf',
      [
        'keepalive 30ms',
        'deadtime 100ms',
        'warntime 60ms',
        'initdead 1',
        `udpport ${hbPort}`,
        'ucast lo 127.0.0.2',
        'node alpha beta',
        'event_listen 127.0.0.1:0',
        `state_dir ${hb}/state`,
        `resource_dir ${hb}/rd`,
        '',
      ].join('\n'),
    )
    // The same with heartbeat's classic 1 s keepalive.
    const hb1 = join(dir, 'hb1')
    mkdirSync(join(hb1, 'rd'), { recursive: true })
    const cf1 = file(
      'hb1/ha.cf',
      [
        'keepalive 1s',
        'deadtime 5s',
        'warntime 3s',
        'initdead 10',
        `udpport ${await freePort('udp')}`,
        'ucast lo 127.0.0.2',
        'node alpha beta',
        'event_listen 127.0.0.1:0',
        `state_dir ${hb1}/state`,
        `resource_dir ${hb1}/rd`,
        '',
      ].join('\n'),
    )
    file('hb1/authkeys', 'auth 1\n1 sha1 footprint-secret\n', 0o600)
    file('hb1/haresources', 'alpha dummy::x\n')
    file('hb1/rd/dummy', '#!/bin/sh\nexit 0\n', 0o755)
    d['heartbeatd (keepalive 1 s)'] = node([
      bin('heartbeatd'),
      '--config',
      cf1,
      '--node',
      'alpha',
      '--control',
      join(dir, 'hb1.sock'),
      '--log-level',
      'warn',
    ])
    file('hb/authkeys', 'auth 1\n1 sha1 footprint-secret\n', 0o600)
    file('hb/haresources', 'alpha dummy::x\n')
    file('hb/rd/dummy', '#!/bin/sh\nexit 0\n', 0o755)
    d['heartbeatd (keepalive 30 ms)'] = node([
      bin('heartbeatd'),
      '--config',
      cf,
      '--node',
      'alpha',
      '--control',
      join(dir, 'hb.sock'),
      '--log-level',
      'warn',
    ])
  }

  if (root) {
    makeNetns()
    if (existsSync(bin('conn-syncd'))) {
      const cf = file(
        'conn-syncd.conf',
        [
          'node m1',
          'listen 127.0.0.1:6950',
          'peer 127.0.0.2:6950',
          'auth-key footprint-secret-1',
          'service 10.91.0.100:80 tcp',
          '',
        ].join('\n'),
      )
      d['conn-syncd'] = node(
        [
          bin('conn-syncd'),
          '--config',
          cf,
          '--control',
          join(dir, 'cs.sock'),
          '--log-level',
          'warn',
        ],
        NS,
      )
    }
    if (existsSync(bin('erd'))) {
      const cf = file(
        'erd.conf',
        ['updelay 200ms', 'flap_limit 3', 'hold_time 1s', ''].join('\n'),
      )
      d.erd = node(
        [
          bin('erd'),
          'eth0',
          'eth1',
          '-c',
          cf,
          '--control',
          join(dir, 'erd.sock'),
          '--log-level',
          'warn',
        ],
        NS,
      )
    }
    if (existsSync(bin('radvd-lite'))) {
      const cf = file(
        'radvd.conf',
        `interface lan1 {
  AdvSendAdvert on;
  MinRtrAdvInterval 30;
  MaxRtrAdvInterval 100;
  prefix 2001:db8:91::/64 { };
};
`,
      )
      d['radvd-lite'] = node(
        [
          bin('radvd-lite'),
          '-C',
          cf,
          '--control',
          join(dir, 'radvd.sock'),
          '--log-level',
          'warn',
        ],
        NS,
      )
    }
    // References for heartbeatd's 30 ms keepalive: keepalived sending VRRP
    // adverts at the same rate (it becomes master alone on eth0), and the
    // floor of any Node daemon at that rate.
    if (hasCommand('keepalived')) {
      const kc = file(
        'keepalived.conf',
        `global_defs {
  router_id fp
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 0.03
  virtual_ipaddress {
    10.91.0.100/24 dev eth0
  }
}
`,
      )
      const pid = join(dir, 'ka')
      d[`${REFERENCE}keepalived VRRPv3, advert_int 0.03 s`] = start('ip', [
        'netns',
        'exec',
        NS,
        'keepalived',
        '-n',
        '-l',
        '-D',
        '-P',
        '-f',
        kc,
        '-p',
        `${pid}.pid`,
        '-r',
        `${pid}-vrrp.pid`,
        '-c',
        `${pid}-chk.pid`,
      ])
    }
  }
  const floor = file(
    'node-floor.mjs',
    `import dgram from 'node:dgram'
import { createHmac } from 'node:crypto'
const s = dgram.createSocket('udp4')
s.bind(0, '127.0.0.1', () => setInterval(() => {
  const body = Buffer.alloc(160, 1)
  s.send([body, createHmac('sha256', 'k').update(body).digest()], 9, '127.0.0.1')
}, 30))
`,
  )
  d[`${REFERENCE}bare Node: one signed UDP datagram every 30 ms`] = node([
    floor,
  ])
  return { d, vipPort, web, direct: `http://${nodes[0]}:${webPort}/` }
}

// ---- measurements ---------------------------------------------------------
function maxProcRss(pid) {
  let pids = [pid]
  try {
    pids = pids.concat(
      sh('pgrep', ['-P', String(pid)])
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    )
  } catch {
    /* no children */
  }
  return Math.max(
    ...pids.map(p => {
      try {
        return procUsage(p).rssMB
      } catch {
        return 0
      }
    }),
  )
}

// Proportional set size of the tree: shared pages (the node binary, the
// workers' common heap pages) counted once, so 1 + cores processes are not
// charged several times for the same memory. Reported next to RSS; the
// target is judged on RSS, as the issue states it.
function treePssMB(pid) {
  let pids = [pid]
  try {
    pids = pids.concat(
      sh('pgrep', ['-P', String(pid)])
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    )
  } catch {
    /* no children */
  }
  let kb = 0
  for (const p of pids) {
    try {
      kb += Number(
        /^Pss:\s+(\d+)/m.exec(
          readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'),
        )?.[1] ?? 0,
      )
    } catch {
      /* exited */
    }
  }
  return kb / 1024
}

function usage(child) {
  try {
    return treeUsage(child.pid)
  } catch {
    return undefined // exited
  }
}

async function idle(d) {
  // Warm-up: startup work (JIT, first checks, first sync pass) is not idle.
  await sleep(3000)
  const before = Object.fromEntries(
    Object.entries(d).map(([k, c]) => [k, usage(c)]),
  )
  const t0 = performance.now()
  await sleep(IDLE_S * 1000)
  const secs = (performance.now() - t0) / 1000
  const rows = []
  for (const [name, c] of Object.entries(d)) {
    const a = before[name]
    const b = usage(c)
    if (!a || !b) {
      rows.push({
        daemon: name,
        error: `exited: ${c.output.slice(-300).trim()}`,
      })
      continue
    }
    const cpuPct = ((b.cpuSeconds - a.cpuSeconds) / secs) * 100
    rows.push({
      daemon: name,
      processes: 1 + countChildren(c.pid),
      rssMB: Math.round(b.rssMB * 10) / 10,
      maxProcessRssMB: Math.round(maxProcRss(c.pid) * 10) / 10,
      pssMB: Math.round(treePssMB(c.pid) * 10) / 10,
      idleCpuPct: Math.round(cpuPct * 100) / 100,
      met: b.rssMB < RSS_TARGET_MB && cpuPct < CPU_TARGET_PCT,
    })
  }
  return { seconds: Math.round(secs * 10) / 10, rows }
}

function countChildren(pid) {
  try {
    return sh('pgrep', ['-P', String(pid)])
      .split(/\s+/)
      .filter(Boolean).length
  } catch {
    return 0
  }
}

async function wrkRun(url, close) {
  const args = ['-t1', '-c16', `-d${LOAD_S}s`, '--timeout', '5s']
  if (close) args.push('-H', 'Connection: close')
  args.push(url)
  const w = start('wrk', args)
  const code = await new Promise(r => w.once('exit', r))
  if (code !== 0) throw new Error(`wrk failed: ${w.output}`)
  const requests = Number(/(\d+) requests in/.exec(w.output)?.[1] ?? NaN)
  const errs =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      w.output,
    )
  const errors = errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0
  return { requests, errors, command: `wrk ${args.join(' ')}` }
}

async function cpuPerRequests(tm, vipPort, direct) {
  const url = `http://127.0.0.1:${vipPort}/`
  const out = []
  // Reference in the same run: the same wrk straight to one node's web
  // server, so requests/s through the proxy can be read against it.
  for (const close of [false, true]) {
    const r = await wrkRun(direct, close)
    out.push({
      workload: `${close ? 'one connection per request' : 'keep-alive'}, direct to one node (reference, no proxy)`,
      ...r,
      requestsPerSec: Math.round(r.requests / LOAD_S),
      cpuSeconds: null,
      cpuMsPer1000: null,
    })
  }
  for (const close of [false, true]) {
    const a = treeUsage(tm.pid)
    const r = await wrkRun(url, close)
    const b = treeUsage(tm.pid)
    const cpu = b.cpuSeconds - a.cpuSeconds
    out.push({
      workload: close ? 'one connection per request' : 'keep-alive',
      ...r,
      requestsPerSec: Math.round(r.requests / LOAD_S),
      cpuSeconds: Math.round(cpu * 100) / 100,
      cpuMsPer1000: Math.round(((cpu * 1000) / r.requests) * 1000 * 10) / 10,
      rssMBAfter: Math.round(b.rssMB * 10) / 10,
    })
  }
  return out
}

function markdown(r) {
  const rows = r.idle.rows.map(x =>
    x.error
      ? `| ${x.daemon} | - | - | - | - | - | no (${x.error.replace(/[|\n]/g, ' ').slice(0, 80)}) |`
      : `| ${x.daemon} | ${x.processes} | ${x.rssMB} | ${x.maxProcessRssMB} | ${x.pssMB} | ${x.idleCpuPct} | ${x.daemon.startsWith(REFERENCE) ? '(reference)' : x.met ? 'yes' : 'no'} |`,
  )
  const load = r.load.map(
    x =>
      `| ${x.workload} | ${x.requests} | ${x.requestsPerSec} | ${x.errors} | ${x.cpuSeconds ?? '-'} | ${x.cpuMsPer1000 ?? '-'} | \`${x.command.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:VIP')}\` |`,
  )
  return `## Footprint: memory and idle CPU of every daemon

What: each daemon started with a small realistic configuration, all at
once, left alone ${r.idle.seconds} s after a 3 s warm-up; RSS (VmRSS,
summed over the daemon's process tree) at the end, CPU (user+sys from
/proc/<pid>/stat, tree) over the idle period as a share of one core.
Targets (issue 9): under ${RSS_TARGET_MB} MB RSS and under ${CPU_TARGET_PCT}% of a core; "target met"
uses the RSS of the whole tree (a traffic-manager with proxy workers is
1 + cores Node processes; each one alone is in the "largest process" column;
PSS sums the tree's proportional set size, which splits each shared page
among all processes mapping it, so the node binary's pages are also shared
with any other Node process on the machine: a lower bound).
Then traffic-manager's CPU time (its whole tree: main process plus proxy
workers) per 1,000 requests through its userspace proxy to two node web
servers, driven by wrk for ${LOAD_S} s per workload.

Command: \`node bench/footprint.js${r.quick ? ' --quick' : ''}\` (root for the
namespace daemons). Load average when the run started: ${r.loadAtStart}
(the machine is shared; idle CPU includes time stolen by waiting on a
busy scheduler, so figures are upper bounds).

Configurations: traffic-manager with one virtual service, two nodes,
\`workers auto\`, receiving two traffic-clients' reports every 500 ms;
traffic-client reporting every 500 ms to one master; ldirectord checking two
reals over HTTP every 2 s; ha-nfs-mount \`sync\` watching a 100-file tree
(no changes); heartbeatd twice, with the example's timings (keepalive 30 ms)
and with heartbeat's classic 1 s keepalive (unicast on lo, peer absent); a
second traffic-manager with \`workers 0\` (data plane in the main process,
no reports); conn-syncd, erd (two veth NICs) and radvd-lite (RAs
every 30-100 s on a veth) inside a namespace made for the run.

| daemon | processes | RSS MB (all) | RSS MB (largest process) | PSS MB (all) | idle CPU % of a core | target met? |
| --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

traffic-manager CPU per 1,000 requests:

| workload | requests | requests/s | errors | CPU s (tree) | CPU ms per 1,000 requests | load command |
| --- | --- | --- | --- | --- | --- | --- |
${load.join('\n')}

${findings(r)}

![footprint RSS](bench/footprint-rss.svg)
![footprint idle CPU](bench/footprint-cpu.svg)

${machineMarkdown(r.machine)}
`
}

// Why a row misses its target: causes found while writing this bench
// (checked by hand, see the report), keyed by daemon name prefix.
const CAUSES = {
  'traffic-manager':
    'with `workers auto` it is 1 + cores Node processes (each under the target, see "largest process"), and summed RSS counts the pages they share (the node binary) once per process: the tree\'s PSS is the fairer figure; `workers 0` keeps it to one process, at the cost of the second core for the proxy',
  'traffic-client':
    'one round every 500 ms (read the procfs files, compute, HMAC, one datagram per master); a longer `updates` lowers it proportionally',
  'heartbeatd (keepalive 30 ms)':
    "the example's fast timings: about 33 signed heartbeats sent and as many timer wake-ups per second, so the cost follows the keepalive rate (the same daemon with heartbeat's classic 1 s keepalive is the row above). The two reference rows, measured in the same run, bound it: keepalived sending VRRP adverts at the same 30 ms rate, and a bare Node process doing nothing but one signed UDP send every 30 ms, which is the floor for any Node daemon at this rate. A CPU profile of heartbeatd (`node --cpu-prof`) shows its JavaScript idle 98.7% of the time; the rest is the runtime waking up",
  heartbeatd: 'not analysed for this timing; compare with the 30 ms row',
  erd: "reads the active NIC's carrier bit every `poll_interval` (default 100 ms, like bonding's miimon) and both links every second, on top of `ip monitor`; a longer `poll_interval` trades detection time for CPU",
}

function findings(r) {
  const missed = r.idle.rows.filter(
    x => !x.met && !x.daemon.startsWith(REFERENCE),
  )
  if (!missed.length) return 'Every daemon meets both targets.'
  return [
    'Missed targets:',
    '',
    ...missed.map(x => {
      const cause =
        Object.entries(CAUSES).find(([k]) => x.daemon.startsWith(k))?.[1] ??
        'not analysed'
      const what = x.error
        ? 'did not run'
        : [
            x.rssMB >= RSS_TARGET_MB
              ? `RSS ${x.rssMB} MB (${(x.rssMB - RSS_TARGET_MB).toFixed(1)} MB over the ${RSS_TARGET_MB} MB target)`
              : '',
            x.idleCpuPct >= CPU_TARGET_PCT
              ? `idle CPU ${x.idleCpuPct}% (${(x.idleCpuPct / CPU_TARGET_PCT).toFixed(1)}x the target)`
              : '',
          ]
            .filter(Boolean)
            .join(', ')
      return `- ${x.daemon}: ${what}. Cause (as analysed when this bench was written): ${cause}.`
    }),
  ].join('\n')
}

async function main() {
  const loadAtStart = loadavg()
    .map(x => x.toFixed(1))
    .join(' ')
  const m = machine()
  const { d, vipPort, direct } = await startDaemons()
  console.error(
    `footprint: ${Object.keys(d).length} daemons started; idle ${IDLE_S} s`,
  )
  const idleResult = await idle(d)
  for (const [name, c] of Object.entries(d))
    if (name !== 'traffic-manager') await stop(c)
  console.error('footprint: traffic-manager CPU per 1,000 requests')
  const load = await cpuPerRequests(d['traffic-manager'], vipPort, direct)
  const checks = idleResult.rows
    .filter(x => !x.daemon.startsWith(REFERENCE))
    .flatMap(x =>
      x.error
        ? [check(`footprint: ${x.daemon} runs`, NaN, 0)]
        : [
            check(
              `footprint: ${x.daemon} RSS < ${RSS_TARGET_MB} MB`,
              x.rssMB,
              RSS_TARGET_MB,
              { atLeast: false, unit: ' MB', digits: 1 },
            ),
            check(
              `footprint: ${x.daemon} idle CPU < ${CPU_TARGET_PCT}% of a core`,
              x.idleCpuPct,
              CPU_TARGET_PCT,
              { atLeast: false, unit: '%' },
            ),
          ],
    )
  const result = {
    machine: m,
    quick,
    loadAtStart,
    targets: { rssMB: RSS_TARGET_MB, idleCpuPct: CPU_TARGET_PCT },
    checks,
    idle: idleResult,
    load,
  }
  mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true })
  writeFileSync(
    join(ROOT, 'docs', 'bench', 'footprint.json'),
    JSON.stringify(result, null, 2) + '\n',
  )
  writeFileSync(join(ROOT, 'docs', 'bench', 'footprint.md'), markdown(result))
  const ok = idleResult.rows.filter(x => !x.error)
  writeFileSync(
    join(ROOT, 'docs', 'bench', 'footprint-rss.svg'),
    barChart({
      title: `RSS after ${idleResult.seconds} s idle, MB (target < ${RSS_TARGET_MB})`,
      yLabel: 'MB',
      height: 420,
      bars: ok.map(x => ({ name: x.daemon, value: x.rssMB })),
    }),
  )
  writeFileSync(
    join(ROOT, 'docs', 'bench', 'footprint-cpu.svg'),
    barChart({
      title: `idle CPU, % of one core (target < ${CPU_TARGET_PCT})`,
      yLabel: '% of a core',
      height: 420,
      bars: ok.map(x => ({ name: x.daemon, value: x.idleCpuPct })),
    }),
  )
  console.log(markdown(result))
}

try {
  await main()
} finally {
  await stopAll()
  deleteNetns()
  rmSync(dir, { recursive: true, force: true })
}
