#!/usr/bin/env node
// The whole cluster, deployed from examples/master-node and
// examples/traffic-node, under a seeded schedule of faults while clients
// use it; measured availability (issue 14). Root only (namespaces).
//
//   node bench/chaos.js [--minutes 10] [--seed 1] [--short] [--docs]
//                       [--out DIR] [--only TYPE,...] [--keep-logs] [--capture]
//
// --minutes: length of the fault schedule (plus ~1 min of set-up);
// --short: holds scaled to a third (the CI run); --docs: writes
// docs/availability.md and docs/bench/chaos-timeline.svg; --out: where the
// JSON summary, the SVG and every daemon's log go (default a temp dir,
// kept when --keep-logs or when the run fails).
import { spawn, execFileSync } from 'node:child_process'
import { createInterface } from 'node:readline'
import {
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from './lib/procs.js'
import { deploy, MASTERS, NODES, PAGE, VIP4, VIP6 } from './lib/chaos/deploy.js'
import { Topology } from './lib/chaos/topology.js'
import { makeSupervisor } from './lib/chaos/supervisor.js'
import { inject, schedule } from './lib/chaos/faults.js'
import { analyse, timelineSvg } from './lib/chaos/report.js'
import { availabilityMarkdown } from './lib/chaos/markdown.js'
import { startCapture } from './lib/chaos/capture.js'

const { controlRequest } = await import(
  join(ROOT, 'packages/daemon-kit/dist/index.js')
)

const USAGE = `usage: node bench/chaos.js [--minutes 10] [--seed 1] [--short] [--docs]
                          [--out DIR] [--only TYPE,...] [--keep-logs] [--capture]
  --minutes N     length of the fault schedule (plus about 1 min of set-up)
  --seed N        the schedule's seed (the same seed, the same faults)
  --short         holds scaled to a third (the CI run)
  --docs          write docs/availability.md and docs/bench/chaos-timeline.svg
  --out DIR       keep the summary, samples, SVG and every daemon's log here
                  (a new or empty directory)
  --only T,...    only fault types whose name contains one of these
  --keep-logs     keep the temporary directory when the run passes
  --capture       keep in DIR/capture packet headers of port 80 on every
                  NIC of the nodes, the masters' LAN and the client, the
                  switches' FDB changes, each node's link, route and
                  neighbour changes and each master's conntrack -S`
// Strict: a mistyped option must not start a 10-minute run with the defaults.
let opts
try {
  opts = parseArgs({
    strict: true,
    options: {
      minutes: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      short: { type: 'boolean', default: false },
      docs: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      capture: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values
} catch (e) {
  console.error(`chaos: ${e.message}\n${USAGE}`)
  process.exit(2)
}
if (opts.help) {
  console.log(USAGE)
  process.exit(0)
}
const minutes = Number(opts.minutes)
const seed = Number(opts.seed)
const bad = (name, what) => {
  console.error(
    `chaos: --${name} ${JSON.stringify(opts[name])}: not ${what}\n${USAGE}`,
  )
  process.exit(2)
}
if (!(minutes > 0)) bad('minutes', 'a positive number')
if (!Number.isInteger(seed) || seed < 0) bad('seed', 'a whole number >= 0')
const short = opts.short
const only = opts.only?.split(',')
if (process.getuid?.() !== 0) {
  console.log('chaos: skipped: needs root for network namespaces')
  process.exit(0)
}
// A used --out would mix two runs' logs and configs: refuse it, never clear it.
if (opts.out && existsSync(opts.out) && readdirSync(opts.out).length > 0) {
  console.error(
    `chaos: --out ${JSON.stringify(opts.out)}: not empty (an earlier run's files); name a new directory\n${USAGE}`,
  )
  process.exit(2)
}
const D = opts.out ?? mkdtempSync(join(tmpdir(), 'has-chaos-'))
mkdirSync(D, { recursive: true })
const logDir = join(D, 'logs')
mkdirSync(logDir, { recursive: true })
const say = (...m) =>
  console.error(`[chaos ${new Date().toISOString().slice(11, 19)}]`, ...m)
const sleep = ms => new Promise(r => setTimeout(r, ms))
const command = `node bench/chaos.js ${process.argv.slice(2).join(' ')}`.trim()

const topo = new Topology(`hch${process.pid % 10000}`)
const t0 = Date.now()
const sup = makeSupervisor({ ROOT, topo, logDir, t0 })
let loadChild
let stopCapture
let cleaned = false
function cleanup() {
  if (cleaned) return
  cleaned = true
  stopCapture?.()
  sup.stopAll()
  try {
    loadChild?.kill('SIGKILL')
  } catch {}
  topo.cleanup()
  if (!opts['keep-logs'] && !opts.out && process.exitCode === 0)
    rmSync(D, { recursive: true, force: true })
}
process.on('exit', cleanup)
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.on(s, () => {
    process.exitCode = 130
    cleanup()
    process.exit(130)
  })

async function until(what, fn, ms = 30_000, every = 250) {
  const end = Date.now() + ms
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch {}
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

// ---- the NFS server of each master (nfs-ganesha with its rpcbind) ----
function ganeshaUnit(m) {
  const g = join(m.dirs.root, 'ganesha')
  mkdirSync(join(g, 'recovery'), { recursive: true })
  writeFileSync(
    join(g, 'ganesha.conf'),
    `NFS_CORE_PARAM { Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; NFS_Port = 2049; }
NFSv4 { Graceless = true; RecoveryRoot = ${g}/recovery; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT { Export_Id = 1; Path = /srv/export; Pseudo = /export; Access_Type = RO; Squash = No_Root_Squash; SecType = sys; FSAL { Name = VFS; } }
`,
  )
  // rpcbind's socket lives in /run: a private tmpfs for it (as in
  // packages/ha-nfs-mount/test/helpers/ganesha.ts).
  const script = [
    'set -e',
    'mount -t tmpfs has-rpcbind /run',
    'mkdir -p /run/rpcbind',
    'rpcbind -f &',
    'i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
    `exec ganesha.nfsd -F -f ${g}/ganesha.conf -L ${g}/ganesha.log -p ${g}/ganesha.pid -N NIV_EVENT`,
  ].join('\n')
  return {
    name: 'nfs-ganesha',
    file: '(harness) nfs-ganesha.service',
    execStart: [
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
    ],
    restart: 'no',
    restartMs: 1000,
    preventExit: [],
  }
}

const hosts = deploy(ROOT, D)
for (const m of MASTERS) hosts[m.id].units.unshift(ganeshaUnit(hosts[m.id]))
const READY = {
  'traffic-manager': /traffic-manager ready/,
  heartbeatd: /heartbeat running/,
  'ha-nfs-mount': /"event":"present"/,
}

async function startUnit(host, name) {
  const unit = host.units.find(u => u.name === name)
  sup.start(host, unit)
  if (READY[name]) await sup.waitLine(host, name, READY[name], 40_000)
  else if (name === 'nfs-ganesha') {
    await until(
      `${host.id} nfs-ganesha answering`,
      () => {
        execFileSync(
          topo.enter(host.id)[0],
          [
            ...topo.enter(host.id).slice(1),
            'rpcinfo',
            '-n',
            '2049',
            '-t',
            '127.0.0.1',
            '100003',
            '4',
          ],
          { stdio: 'ignore' },
        )
        return true
      },
      30_000,
      200,
    )
  } else await sleep(200)
}
async function startHost(host) {
  sup.down.delete(host.id)
  for (const u of host.units) await startUnit(host, u.name)
}
/** A machine coming back: links up, a rebooted kernel's state, units in order. */
async function powerOn(host) {
  if (host.role === 'master') {
    for (const a of [`${VIP4}/24`, `${VIP6}/64`])
      try {
        topo.ip(host.id, 'addr', 'del', a, 'dev', 'eth0')
      } catch {}
    topo.exec(host.id, 'nft', 'flush', 'ruleset')
    try {
      topo.exec(host.id, 'conntrack', '-F')
    } catch {}
  }
  for (const dev of ['eth0', 'eth1']) topo.ip(host.id, 'link', 'set', dev, 'up')
  await startHost(host)
}

// ---- monitoring: VIP owner and the active traffic-manager's node table ----
const mon = []
// A powered-off machine holds nothing (its address goes with its RAM).
const vipOn = id => {
  if (sup.down.has(id)) return false
  try {
    return topo
      .ip(id, '-o', 'addr', 'show', 'dev', 'eth0')
      .includes(` ${VIP4}/`)
  } catch {
    return false
  }
}
let lastOwner = 'm1'
const activeMaster = () => lastOwner
async function sample() {
  const on = MASTERS.filter(m => vipOn(m.id)).map(m => m.id)
  const vip = on.length === 2 ? 'both' : (on[0] ?? 'none')
  if (on.length === 1) lastOwner = on[0]
  const nodes = {}
  try {
    const st = await controlRequest(
      join(D, lastOwner, 'run', 'has', 'traffic-manager.sock'),
      'status',
      [],
      800,
    )
    const svc = st.services.find(s => s.name === `${VIP4}:80`)
    for (const n of NODES)
      nodes[n.id] = !!svc?.nodes.find(x => x.address.startsWith(n.addr))
        ?.eligible
  } catch {}
  mon.push({ t: Date.now(), vip, nodes, load1: loadavg()[0] })
}

// ---- the run ----
let exitCode = 0
try {
  say(
    `seed ${seed}, ${minutes} min of faults${short ? ' (short holds)' : ''}; logs in ${logDir}`,
  )
  topo.build()
  for (const h of Object.values(hosts)) await topo.machine(h)
  if (opts.capture) {
    const dir = join(D, 'capture')
    mkdirSync(dir, { recursive: true })
    stopCapture = startCapture(
      topo,
      NODES.map(n => n.id),
      dir,
      MASTERS.map(m => m.id),
    )
    say('capturing into', dir)
  }
  say('namespaces and machines up; starting masters')
  await Promise.all(MASTERS.map(m => startHost(hosts[m.id])))
  await until('master1 to hold the VIP', () => vipOn('m1'), 40_000)
  say('VIP on master1; starting traffic nodes')
  await Promise.all(NODES.map(n => startHost(hosts[n.id])))
  await until(
    'all four nodes eligible on master1 and master2',
    async () => {
      for (const m of MASTERS) {
        const st = await controlRequest(
          join(D, m.id, 'run', 'has', 'traffic-manager.sock'),
          'status',
          [],
          1000,
        )
        const svc = st.services.find(s => s.name === `${VIP4}:80`)
        if (!svc || svc.nodes.filter(n => n.eligible).length !== NODES.length)
          return false
      }
      return true
    },
    60_000,
  )
  const slaac = await until(
    'the client to autoconfigure IPv6 from radvd-lite',
    () =>
      /inet6 2001:db8:1:/.test(
        topo.ip('c', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'),
      ) && topo.ip('c', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'),
    60_000,
    500,
  )
  say('client IPv6 by SLAAC:', /inet6 (\S+)/.exec(slaac)[1])

  const plan = schedule(seed, minutes * 60, {
    scale: short ? 1 / 3 : 1,
    gapS: short ? 10 : 15,
    only,
  })
  const warm = 10,
    tail = short ? 10 : 20
  const total =
    warm +
    (plan.at(-1) ? plan.at(-1).at + plan.at(-1).hold : 0) +
    (short ? 10 : 15) +
    tail
  say(
    `${plan.length} faults over ${total} s of load:`,
    plan.map(f => f.type).join(' | '),
  )
  const load = []
  loadChild = spawn(
    'ip',
    [
      'netns',
      'exec',
      topo.ns('c'),
      process.execPath,
      join(ROOT, 'bench/lib/chaos/load.js'),
      JSON.stringify({ v4: VIP4, v6: VIP6, page: PAGE, seconds: total }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  createInterface({ input: loadChild.stdout }).on('line', l => {
    try {
      load.push(JSON.parse(l))
    } catch {}
  })
  const loadDone = new Promise(r => loadChild.once('exit', r))
  const tLoad = Date.now()
  const monTimer = setInterval(() => {
    void sample()
  }, 1000)
  await sleep(warm * 1000)
  const ctx = { topo, sup, hosts, activeMaster, powerOn, startUnit }
  const faults = []
  for (const f of plan) {
    const due = tLoad + (warm + f.at) * 1000
    if (Date.now() < due) await sleep(due - Date.now())
    f.tInject = Date.now()
    say(`fault ${faults.length + 1}/${plan.length}: ${f.type}`)
    faults.push(f)
    let undo
    try {
      undo = await inject(f, ctx)
    } catch (e) {
      f.error = String(e.message ?? e)
      say('inject failed:', f.error)
    }
    await sleep(f.hold * 1000)
    f.tUndo = Date.now()
    try {
      await undo?.()
    } catch (e) {
      f.error = String(e.message ?? e)
      say('recovery failed:', f.error)
    }
    say(`  target ${f.target ?? '-'}; undone`)
  }
  await loadDone
  clearInterval(monTimer)
  const tEnd = Date.now()
  const a = analyse({ load, mon, faults, exits: sup.exits, t0: tLoad, tEnd })
  const meta = {
    command,
    seed,
    minutes,
    short,
    date: new Date().toISOString(),
    loadavgEnd: loadavg(),
    durationS: Math.round((tEnd - tLoad) / 1000),
  }
  const svg = timelineSvg({
    a,
    mon,
    faults,
    t0: tLoad,
    tEnd,
    title: `has chaos run: seed ${seed}, ${meta.durationS} s, availability ${(a.totals.availability * 100).toFixed(4)} %`,
  })
  const summary = {
    meta,
    totals: a.totals,
    byType: a.byType,
    perFault: a.perFault,
    falseFailovers: a.falseFailovers,
    splitBrains: a.splitBrains,
    crashes: a.crashes,
    provokedRestarts: a.provokedRestarts.length,
    faults: faults.map(f => ({
      type: f.type,
      target: f.target,
      error: f.error,
    })),
  }
  writeFileSync(join(D, 'summary.json'), JSON.stringify(summary, null, 2))
  writeFileSync(join(D, 'timeline.svg'), svg)
  writeFileSync(join(D, 'samples.json'), JSON.stringify({ load, mon }, null, 0))
  if (opts.docs) {
    writeFileSync(join(ROOT, 'docs/bench/chaos-timeline.svg'), svg)
    writeFileSync(
      join(ROOT, 'docs/bench/chaos.json'),
      JSON.stringify(summary, null, 2),
    )
    writeFileSync(
      join(ROOT, 'docs/availability.md'),
      availabilityMarkdown(summary),
    )
  }
  // The machine-readable line the CI test reads.
  console.log(
    JSON.stringify({
      chaos: 'done',
      dir: D,
      availability: a.totals.availability,
      availabilityStrict: a.totals.availabilityStrict,
      ok: a.totals.ok,
      fail: a.totals.fail,
      falseFailovers: a.falseFailovers,
      crashes: a.crashes.length,
      streamsLost: a.totals.streamsLost,
      streamsLostIdle: a.totals.streamsLostIdle,
      streamsLostOld: a.totals.streamsLostOld,
      lostOldByType: Object.fromEntries(
        a.byType.map(b => [b.type, b.streamsLostOld]),
      ),
      faults: faults.length,
    }),
  )
  say(
    `availability ${(a.totals.availability * 100).toFixed(4)} % (${a.totals.ok} ok, ${a.totals.fail} failed; ${(a.totals.availabilityStrict * 100).toFixed(4)} % counting the ${a.totals.streamsLostIdle} streams closed between requests as failed too); streams lost ${a.totals.streamsLost}; false failovers ${a.falseFailovers}; unprovoked daemon exits ${a.crashes.length}`,
  )
} catch (e) {
  exitCode = 1
  say('FAILED:', e.stack ?? e)
  say('logs kept in', logDir)
}
process.exitCode = exitCode
cleanup()
process.exit(exitCode)
