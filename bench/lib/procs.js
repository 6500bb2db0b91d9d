// Starting and stopping the processes a benchmark needs, by PID, and the
// load generator (wrk) with its output parsed. Bounded: every wrk run has a
// duration; every process is killed at the end.
import { spawn, execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const bin = pkg => join(ROOT, 'packages', pkg, 'dist', 'bin.js')
const started = new Set()

export function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  started.add(child)
  child.once('exit', () => started.delete(child))
  child.output = ''
  child.stdout.on('data', c => (child.output += c))
  child.stderr.on('data', c => (child.output += c))
  return child
}

export function waitOutput(child, re, timeoutMs = 20_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(child.output)
      if (m) {
        cleanup()
        resolve(m)
      }
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(
        new Error(
          `timed out waiting for ${re} in: ${child.output.slice(-500)}`,
        ),
      )
    }, timeoutMs)
    const onExit = code => {
      cleanup()
      reject(
        new Error(`exited (${code}) before ${re}: ${child.output.slice(-500)}`),
      )
    }
    const cleanup = () => {
      clearTimeout(timer)
      child.stdout.off('data', check)
      child.stderr.off('data', check)
      child.off('exit', onExit)
    }
    child.stdout.on('data', check)
    child.stderr.on('data', check)
    child.once('exit', onExit)
    check()
  })
}

export async function stop(child, signal = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(r => child.once('exit', r))
  child.kill(signal)
  const t = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}

export async function stopAll() {
  await Promise.all([...started].map(c => stop(c)))
}
process.on('exit', () => {
  for (const c of started) c.kill('SIGKILL')
})

export function freePort(kind = 'tcp', host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = kind === 'udp' ? createSocket('udp4') : createServer()
    const done = () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    }
    s.once('error', reject)
    if (kind === 'udp') s.bind(0, host, done)
    else s.listen(0, host, done)
  })
}

/**
 * Runs wrk against url for `seconds` and returns requests/s, latency
 * percentiles (ms) and errors. `close` sends `Connection: close`: one
 * connection per request (the WebBench HTTP/1.0 style).
 */
export async function wrk(
  url,
  { seconds = 10, connections = 64, threads = 2, close = false } = {},
) {
  const args = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '--timeout',
    '5s',
  ]
  if (close) args.push('-H', 'Connection: close')
  args.push(url)
  const child = start('wrk', args)
  const code = await new Promise(r => child.once('exit', r))
  const out = child.output
  if (code !== 0) throw new Error(`wrk failed (${code}): ${out}`)
  const unit = (v, u) =>
    Number(v) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 }[u] ?? 1)
  const pct = p => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(out)
    return m ? unit(m[1], m[2]) : NaN
  }
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN)
  const errs =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
      out,
    )
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  return {
    rps,
    p50: pct(50),
    p99: pct(99),
    errors: errs
      ? errs.slice(1).reduce((a, b) => a + Number(b), 0) + non2xx
      : non2xx,
    command: `wrk ${args.join(' ')}`,
  }
}

export const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** CPU time (user+sys, seconds) and RSS (MB) of a PID from /proc. */
export function procUsage(pid) {
  const stat = execFileSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' })
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(f[11]) + Number(f[12])
  const hz = 100
  const status = execFileSync('cat', [`/proc/${pid}/status`], {
    encoding: 'utf8',
  })
  const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { cpuSeconds: ticks / hz, rssMB: rssKB / 1024 }
}

/** Sum of procUsage over a PID and its descendants (cluster workers). */
export function treeUsage(pid) {
  let pids = [pid]
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], {
      encoding: 'utf8',
    })
      .split(/\s+/)
      .filter(Boolean)
      .map(Number)
    for (const k of kids) pids = pids.concat(k)
  } catch {
    /* no children */
  }
  return pids.map(procUsage).reduce(
    (a, u) => ({
      cpuSeconds: a.cpuSeconds + u.cpuSeconds,
      rssMB: a.rssMB + u.rssMB,
    }),
    { cpuSeconds: 0, rssMB: 0 },
  )
}

/**
 * `runs` wrk runs against url, summarised by their medians; with `pid`,
 * also that process tree's CPU (% of one core) over the runs: near
 * 100 x cores means the proxy, not the nodes, set the result.
 */
export async function wrkRuns(url, { runs, pid, ...opts }) {
  const r = []
  const cpu0 = pid ? treeUsage(pid).cpuSeconds : 0
  const t0 = performance.now()
  for (let i = 0; i < runs; i++) r.push(await wrk(url, opts))
  const proxyCpuPct = pid
    ? Math.round(
        ((treeUsage(pid).cpuSeconds - cpu0) /
          ((performance.now() - t0) / 1000)) *
          100,
      )
    : null
  return {
    rps: median(r.map(x => x.rps)),
    p99: median(r.map(x => x.p99)),
    errors: r.reduce((a, x) => a + x.errors, 0),
    command: r[0].command,
    proxyCpuPct,
  }
}
