#!/usr/bin/env node
// traffic-client benchmark: what reporting costs a traffic node, and how
// fast the flag and the agent-check port answer. Everything on loopback,
// bounded in time and count. Writes docs/bench/traffic-client.{md,json}.
//   node bench/traffic-client.js [--quick]
// References are measured in the same run: an idle Node process (footprint),
// a minimal Node TCP server writing a fixed line (agent-check), and the
// wait a flag change would have without the immediate report (updates / 2).
import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer, connect } from 'node:net'
import { once } from 'node:events'
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import {
  LoadSampler,
  procfsReaders,
  writeProcfsFixture,
} from '@has/traffic-client'
import { formatReport, parseReport } from '@has/traffic-manager/protocol'
import { controlRequest } from '@has/daemon-kit'
import { machine, machineMarkdown } from './lib/machine.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const quick = process.argv.includes('--quick')
const bin = join(root, 'packages', 'traffic-client', 'dist', 'bin.js')
const dir = mkdtempSync(join(tmpdir(), 'tcb-'))
const KEY = 'bench-key-0123456789abcdef'
const children = []

const sleep = ms => new Promise(r => setTimeout(r, ms))
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const r1 = x => Math.round(x * 10) / 10

function procStat(pid) {
  // utime + stime in ticks (fields 14, 15), RSS from status.
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  const ticks = Number(f[11]) + Number(f[12])
  const rss = Number(
    /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1],
  )
  return { ticks, rssKB: rss }
}
const TICK_HZ = 100

async function waitFor(pred, ms = 20_000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const v = await pred()
    if (v) return v
    await sleep(20)
  }
  throw new Error('bench: condition not reached')
}

function spawnNode(args) {
  const c = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(c)
  let out = ''
  c.stdout.on('data', d => (out += d))
  return { child: c, out: () => out }
}

// 1. In-process cost of one round's parts on the real /proc.
async function inProcess() {
  const n = quick ? 500 : 5000
  const res = { live: 0, thesis: 0 }
  const samplers = {}
  for (const formula of ['live', 'thesis']) {
    samplers[formula] = new LoadSampler(procfsReaders('/proc'), {
      formula,
      ramMB: 256,
      capacity: 'auto',
      scale: 1,
      memHeadroom: 0.2,
    })
    await samplers[formula].init()
    for (let i = 0; i < 200; i++) await samplers[formula].sample() // warm-up
  }
  // Alternate in blocks so machine noise hits both formulas alike.
  for (let b = 0; b < 10; b++) {
    for (const formula of ['live', 'thesis']) {
      const t0 = performance.now()
      for (let i = 0; i < n / 10; i++) await samplers[formula].sample()
      res[formula] += ((performance.now() - t0) * 1000) / n
    }
  }
  const m = quick ? 20_000 : 200_000
  const t0 = performance.now()
  for (let i = 0; i < m; i++)
    formatReport(
      {
        node: '192.0.2.1',
        load: 6717,
        state: 'up',
        sender: 'tc',
        epoch: 1,
        seq: i,
      },
      KEY,
    )
  res.signMicros = ((performance.now() - t0) * 1000) / m
  res.samples = n
  return res
}

// 2. Footprint of the running daemon vs an idle Node process.
async function footprint() {
  const seconds = quick ? 3 : 10
  const rx = createSocket('udp4')
  rx.bind(0, '127.0.0.1')
  await once(rx, 'listening')
  let got = 0
  let bad = 0
  rx.on('message', m => (parseReport(m).ok ? got++ : bad++))
  const procDir = join(dir, 'proc')
  writeProcfsFixture(procDir, {
    bogomips: 3000,
    cpus: 2,
    memTotalMB: 2048,
    memFreeMB: 1024,
    idleShare: 0.5,
  })
  const conf = join(dir, 'tcd.conf')
  writeFileSync(
    conf,
    `master1 127.0.0.1\nmaster2 127.0.0.1\nport ${rx.address().port}\nupdates 50\nnode 192.0.2.1\nkey ${KEY}\nprocfs proc\nagent_port 0\nagent_addr 127.0.0.1\n`,
  )
  const ctl = join(dir, 'ctl.sock')
  const tc = spawnNode([bin, '-c', conf, '--control', ctl])
  const idle = spawnNode(['-e', 'setInterval(() => {}, 1000)'])
  await waitFor(() => /"msg":"started"/.test(tc.out()))
  await sleep(500)
  const a = procStat(tc.child.pid)
  const ia = procStat(idle.child.pid)
  const g0 = got
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const el = (performance.now() - t0) / 1000
  const b = procStat(tc.child.pid)
  const ib = procStat(idle.child.pid)
  idle.child.kill('SIGTERM')
  const agentPort = Number(/"agent":"127\.0\.0\.1:(\d+)"/.exec(tc.out())[1])
  return {
    tc,
    ctl,
    rx,
    agentPort,
    got: () => got,
    result: {
      seconds: r1(el),
      datagramsPerSecond: r1((got - g0) / el),
      malformed: bad,
      cpuPercent: r1(((b.ticks - a.ticks) / TICK_HZ / el) * 100),
      rssMB: r1(b.rssKB / 1024),
      idleNodeCpuPercent: r1(((ib.ticks - ia.ticks) / TICK_HZ / el) * 100),
      idleNodeRssMB: r1(ib.rssKB / 1024),
    },
  }
}

// 3. Agent-check answers per second vs a minimal fixed-line server.
async function hammer(port, seconds, concurrency) {
  let n = 0
  let errors = 0
  const end = performance.now() + seconds * 1000
  const one = () =>
    new Promise(resolve => {
      const s = connect(port, '127.0.0.1')
      let got = ''
      s.on('data', d => (got += d))
      s.on('end', () => (/%/.test(got) ? n++ : errors++, resolve()))
      s.on('error', () => (errors++, resolve()))
    })
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) await one()
    }),
  )
  return { perSecond: Math.round(n / seconds), errors }
}

async function agent(agentPort) {
  const seconds = quick ? 1 : 4
  const ref = createServer(s => s.end('50% ready up\n'))
  // The reference runs in this process: it gets no IPC or timer overhead,
  // which is the point: it is the floor for a Node agent.
  ref.listen(0, '127.0.0.1')
  await once(ref, 'listening')
  const conc = 8
  const ours = await hammer(agentPort, seconds, conc)
  const base = await hammer(ref.address().port, seconds, conc)
  ref.close()
  return {
    seconds,
    concurrency: conc,
    ours,
    reference: base,
    ratio: Math.round((ours.perSecond / base.perSecond) * 100) / 100,
  }
}

// 4. From `drain` on the control socket to the drain datagram at a master.
async function flagLatency(rx, ctl) {
  const n = quick ? 10 : 40
  const lat = []
  for (let i = 0; i < n; i++) {
    const seen = new Promise(resolve => {
      const on = m => {
        if (/ drain tc /.test(m.toString())) {
          rx.off('message', on)
          resolve(performance.now())
        }
      }
      rx.on('message', on)
    })
    const t0 = performance.now()
    await controlRequest(ctl, 'drain')
    lat.push((await seen) - t0)
    await controlRequest(ctl, 'resume')
  }
  return {
    n,
    medianMs: r1(pct(lat, 50)),
    p95Ms: r1(pct(lat, 95)),
    withoutImmediateReportMs: 25,
  }
}

try {
  const m = machine()
  console.log('traffic-client bench: in-process costs')
  const ip = await inProcess()
  console.log('traffic-client bench: daemon footprint')
  const fp = await footprint()
  console.log('traffic-client bench: agent-check')
  const ag = await agent(fp.agentPort)
  console.log('traffic-client bench: flag latency')
  const fl = await flagLatency(fp.rx, fp.ctl)
  fp.tc.child.kill('SIGTERM')
  await once(fp.tc.child, 'exit')
  fp.rx.close()

  const result = {
    suite: 'traffic-client',
    quick,
    machine: m,
    inProcess: ip,
    footprint: fp.result,
    agentCheck: ag,
    flagLatency: fl,
  }
  const md = `## traffic-client

What: the cost of reporting on a traffic node (one sampling round, one
signed datagram), the running daemon's CPU and memory, the agent-check
port's answer rate, and how soon a \`drain\` reaches a master.
References measured in the same run: an idle \`node\` process (footprint),
a minimal in-process Node TCP server writing the same fixed line
(agent-check), and the mean wait a flag change would see without the
immediate report (half of \`updates\`).

Command: \`node bench/traffic-client.js${quick ? ' --quick' : ''}\` (after
\`npx tsc -b\`). Loopback only; ${quick ? 'quick run' : 'full run'}.

${machineMarkdown(m)}

| measure | traffic-client | reference | ratio |
| --- | --- | --- | --- |
| one sampling round, \`live\` (real /proc, µs) | ${r1(ip.live)} | \`thesis\` ${r1(ip.thesis)} | ${r1(ip.live / ip.thesis)} |
| format + HMAC-SHA256 one report (µs) | ${r1(ip.signMicros)} | - | - |
| daemon CPU, updates 50 ms, 2 masters (%) | ${fp.result.cpuPercent} | idle node ${fp.result.idleNodeCpuPercent} | - |
| daemon RSS (MB) | ${fp.result.rssMB} | idle node ${fp.result.idleNodeRssMB} | ${r1(fp.result.rssMB / fp.result.idleNodeRssMB)} |
| datagrams received per second (expect 40) | ${fp.result.datagramsPerSecond} | - | - |
| agent-check answers/s, ${ag.concurrency} concurrent | ${ag.ours.perSecond} | minimal server ${ag.reference.perSecond} | ${ag.ratio} |
| \`drain\` to datagram at master, median / p95 (ms) | ${fl.medianMs} / ${fl.p95Ms} | mean wait without immediate report at updates 50 ms: ${fl.withoutImmediateReportMs} | - |

Samples: ${ip.samples} rounds per formula; footprint over
${fp.result.seconds} s; agent-check ${ag.seconds} s per server; ${fl.n}
drain/resume cycles. The machine was shared with other work while this
ran, so absolute figures are noisy; ratios compare runs made side by side.
`
  mkdirSync(join(root, 'docs', 'bench'), { recursive: true })
  writeFileSync(join(root, 'docs', 'bench', 'traffic-client.md'), md)
  writeFileSync(
    join(root, 'docs', 'bench', 'traffic-client.json'),
    JSON.stringify(result, null, 2) + '\n',
  )
  console.log(md)
} finally {
  for (const c of children)
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
}
