// traffic-manager start to first served request (issue 18.12), on loopback:
// spawn the daemon with one proxied VIP, a backend and a load report ready,
// and time until a request through the VIP gets its answer; also the CPU
// the main process and each proxy worker used by then (/proc/<pid>/stat).
// Optional --busy N starts N busy-loop processes for the run (bounded by
// the run, killed by PID) to load the machine further.
//
//   node bench/tm-start.js [--runs 5] [--workers 1] [--busy 0] [--bin path/to/bin.js]
import { spawn, execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import { createSocket } from 'node:dgram'
import { request } from 'node:http'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const arg = (n, d) => {
  const i = process.argv.indexOf(`--${n}`)
  return i > 0 ? process.argv[i + 1] : d
}
const runs = Number(arg('runs', '5'))
const workers = Number(arg('workers', '1'))
const busy = Number(arg('busy', '0'))
const bin = arg('bin', join(ROOT, 'packages/traffic-manager/dist/bin.js'))
const { formatReport } = await import(
  join(ROOT, 'packages/traffic-manager/dist/report-protocol.js')
)
const KEY = 'tm-start-bench-key-0123456789'
const CLK = 100 // USER_HZ on Linux

const freePort = () =>
  new Promise(r => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => r(p))
    })
  })
const backend = createServer((q, s) => s.end('ok\n'))
await new Promise(r => backend.listen(0, '127.0.0.71', r))
const cpuMs = pid => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .split(') ')[1]
      .split(' ')
    return ((+f[11] + +f[12]) * 1000) / CLK
  } catch {
    return NaN
  }
}
const children = pid => {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], {
      encoding: 'utf8',
    })
      .split('\n')
      .map(Number)
      .filter(Boolean)
  } catch {
    return []
  }
}
const get = port =>
  new Promise(resolve => {
    const q = request(
      { host: '127.0.0.1', port, agent: false, timeout: 1000 },
      r => {
        r.resume()
        r.on('end', () => resolve(r.statusCode === 200))
      },
    )
    q.on('error', () => resolve(false))
    q.on('timeout', () => {
      q.destroy()
      resolve(false)
    })
    q.end()
  })

const loops = []
for (let i = 0; i < busy; i++)
  loops.push(
    spawn(
      process.execPath,
      ['-e', 'const end = Date.now() + 600000; while (Date.now() < end) {}'],
      { stdio: 'ignore' },
    ),
  )
const results = []
try {
  for (let r = 0; r < runs; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'tm-start-'))
    const [vip, rep] = [await freePort(), await freePort()]
    const conf = join(dir, 'tmd.conf')
    writeFileSync(
      conf,
      [
        'traffic1 127.0.0.71',
        'listen 127.0.0.1',
        `port ${rep}`,
        'timeout 60000',
        `key ${KEY}`,
        `workers ${workers}`,
        `virtual 127.0.0.1:${vip}`,
        '  connect-timeout 10s',
        `  node 127.0.0.71:${backend.address().port}`,
        '',
      ].join('\n'),
    )
    // Reports every 50 ms from before the start, as running nodes do.
    const udp = createSocket('udp4')
    let seq = 0
    const epoch = Date.now()
    const tick = setInterval(
      () =>
        udp.send(
          formatReport(
            {
              node: '127.0.0.71',
              load: 1000,
              state: 'up',
              sender: 'b',
              epoch,
              seq: ++seq,
            },
            KEY,
          ),
          rep,
          '127.0.0.1',
        ),
      50,
    )
    const t0 = performance.now()
    const child = spawn(
      process.execPath,
      [bin, '-c', conf, '--control', join(dir, 'ctl.sock')],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    let served = false
    const end = Date.now() + 60_000
    while (!served && Date.now() < end) {
      served = await get(vip)
      if (!served) await new Promise(r => setTimeout(r, 10))
    }
    const ms = performance.now() - t0
    const main = cpuMs(child.pid)
    const w = children(child.pid).map(cpuMs)
    results.push({
      ms: Math.round(ms),
      mainCpuMs: main,
      workerCpuMs: w,
      served,
    })
    console.log(JSON.stringify({ run: r + 1, ...results.at(-1) }))
    clearInterval(tick)
    udp.close()
    child.kill('SIGKILL')
    await new Promise(r => child.once('exit', r))
  }
} finally {
  for (const l of loops) l.kill('SIGKILL')
  backend.close()
}
const med = xs => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
console.log(
  JSON.stringify({
    bin,
    workers,
    busy,
    runs,
    loadavg: loadavg().map(x => x.toFixed(1)),
    medianMs: med(results.map(r => r.ms)),
    medianMainCpuMs: med(results.map(r => r.mainCpuMs)),
    medianWorkerCpuMs: med(results.flatMap(r => r.workerCpuMs)),
  }),
)
