// systemd-like supervision of every host's units: start in order, restart
// as the unit's Restart=/RestartSec=/RestartPreventExitStatus= say, and a
// record of every exit. Each process runs in its own process group (as
// systemd's cgroup) so a crash or power-off takes its children too.
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { argvOf } from './deploy.js'
import { wouldRestart } from './unit-file.js'

// systemd's socket units, emulated (traffic-manager's test fixture).
const HOLDER = fileURLToPath(
  new URL(
    '../../../packages/traffic-manager/test/fixtures/sd-socket-holder.py',
    import.meta.url,
  ),
)

// The holder runs on every start of a socket-activated unit (nginx,
// traffic-manager), time systemd itself does not spend. The distribution's
// interpreter without site imports: a pyenv shim first in PATH cost 0.4 s
// per start on a quiet machine and 1 to 6 s under the run's load, all of it
// counted against the crash being measured.
const PYTHON = existsSync('/usr/bin/python3')
  ? ['/usr/bin/python3', '-S']
  : ['python3', '-S']

export class Supervisor {
  constructor({ ROOT, topo, logDir, t0 }) {
    this.ROOT = ROOT
    this.topo = topo
    this.logDir = logDir
    this.t0 = t0
    this.procs = new Map() // key host/unit -> { child, unit, host, lines, expected }
    this.exits = [] // { t, host, unit, code, signal, expected, restarted }
    this.stopping = false
  }

  key(host, unit) {
    return `${host.id}/${unit.name}`
  }
  now() {
    return (Date.now() - this.t0) / 1000
  }

  start(host, unit) {
    const k = this.key(host, unit)
    const argv = [
      ...this.topo.enter(host.id),
      ...this.sockets(host, unit),
      ...argvOf(this.ROOT, unit),
    ]
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const log = createWriteStream(
      join(this.logDir, `${host.id}-${unit.name}.log`),
      { flags: 'a' },
    )
    log.write(`--- ${new Date().toISOString()} start ${argv.join(' ')}\n`)
    const rec = { child, unit, host, waiters: [], expected: false, log }
    let buf = ''
    const onData = c => {
      log.write(c)
      buf += c.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        for (const w of [...rec.waiters])
          if (w.re.test(line)) {
            rec.waiters.splice(rec.waiters.indexOf(w), 1)
            w.resolve(line)
          }
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code, signal) => {
      log.write(
        `--- ${new Date().toISOString()} exit code=${code} signal=${signal}\n`,
      )
      log.end()
      for (const w of rec.waiters)
        w.reject(new Error(`${k} exited (${code ?? signal}) before ${w.re}`))
      if (this.procs.get(k) === rec) this.procs.delete(k)
      const restart =
        !rec.expected && !this.stopping && wouldRestart(unit, code, signal)
      this.exits.push({
        t: this.now(),
        host: host.id,
        unit: unit.name,
        code,
        signal,
        expected: rec.expected,
        provoked: rec.provoked ?? null,
        restarted: restart,
      })
      // As systemd: ExecStopPost= after every exit (not on power-off), then
      // RestartSec=, then the restart.
      const post =
        this.down.has(host.id) || this.stopping
          ? Promise.resolve()
          : this.stopPost(host, unit)
      if (restart) {
        void post.then(() => {
          rec.restartTimer = setTimeout(() => {
            if (!this.stopping && !this.procs.has(k) && !this.down.has(host.id))
              this.start(host, unit)
          }, unit.restartMs)
        })
      }
    })
    this.procs.set(k, rec)
    return rec
  }

  /**
   * Socket activation, as systemd does for a unit with a .socket: the
   * host's listening sockets are held by one process per host and unit
   * (started at the first start, gone with the host's power), and every
   * start gets copies at fds 3.. with LISTEN_*. Returns the argv prefix.
   */
  sockets(host, unit) {
    if (!unit.sockets?.length) return []
    const k = this.key(host, unit)
    const path = `/run/has-chaos-${unit.name}.fds`
    if (!this.holders.has(k)) {
      const argv = [
        ...this.topo.enter(host.id),
        ...PYTHON,
        HOLDER,
        'hold',
        path,
        ...unit.sockets.map(s => `${s.name}=${s.listen}`),
      ]
      // stdin stays open: the holder ends when this harness does.
      const child = spawn(argv[0], argv.slice(1), {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      })
      const log = createWriteStream(
        join(this.logDir, `${host.id}-${unit.name}.socket.log`),
        { flags: 'a' },
      )
      child.stdout.pipe(log)
      child.stderr.pipe(log)
      this.holders.set(k, child)
      child.once('exit', () => {
        if (this.holders.get(k) === child) this.holders.delete(k)
      })
    }
    return [...PYTHON, HOLDER, 'exec', path, '--']
  }

  killHolders(host) {
    for (const [k, child] of [...this.holders]) {
      if (host && !k.startsWith(`${host.id}/`)) continue
      this.holders.delete(k)
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {}
    }
  }

  /** Runs the unit's ExecStopPost= commands in order (bounded, 30 s each). */
  async stopPost(host, unit) {
    for (const cmd of unit.execStopPost ?? []) {
      const argv = [
        ...this.topo.enter(host.id),
        ...argvOf(this.ROOT, { execStart: cmd }),
      ]
      const log = createWriteStream(
        join(this.logDir, `${host.id}-${unit.name}.log`),
        { flags: 'a' },
      )
      log.write(`--- ${new Date().toISOString()} stop-post ${argv.join(' ')}\n`)
      await new Promise(resolve => {
        const child = spawn(argv[0], argv.slice(1), {
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        child.stdout.pipe(log, { end: false })
        child.stderr.pipe(log, { end: false })
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
        child.once('error', () => {
          clearTimeout(timer)
          resolve()
        })
        child.once('close', code => {
          clearTimeout(timer)
          log.end(`--- stop-post exit ${code}\n`)
          resolve()
        })
      })
    }
  }

  /** Resolves with the first output line matching re (bounded). */
  waitLine(host, unitName, re, ms = 30_000) {
    const rec = this.procs.get(`${host.id}/${unitName}`)
    if (!rec)
      return Promise.reject(new Error(`${host.id}/${unitName} not running`))
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new Error(
              `${host.id}/${unitName}: no line matching ${re} within ${ms} ms`,
            ),
          ),
        ms,
      )
      rec.waiters.push({
        re,
        resolve: l => {
          clearTimeout(t)
          resolve(l)
        },
        reject: e => {
          clearTimeout(t)
          reject(e)
        },
      })
    })
  }

  pid(host, unitName) {
    return this.procs.get(`${host.id}/${unitName}`)?.child.pid
  }

  /** A fault: signal the unit's process group; provoked exits are labelled. */
  signal(host, unitName, sig, label) {
    const rec = this.procs.get(`${host.id}/${unitName}`)
    if (!rec) return false
    rec.provoked = label
    try {
      process.kill(-rec.child.pid, sig)
    } catch {
      return false
    }
    return true
  }

  /** Power-off: every process of the host dies at once, nothing restarts. */
  powerOff(host) {
    this.down.add(host.id)
    this.killHolders(host)
    for (const rec of [...this.procs.values()].filter(r => r.host === host)) {
      rec.expected = true
      try {
        process.kill(-rec.child.pid, 'SIGKILL')
      } catch {}
    }
  }

  stopAll() {
    this.stopping = true
    this.killHolders()
    for (const rec of this.procs.values()) {
      rec.expected = true
      try {
        process.kill(-rec.child.pid, 'SIGKILL')
      } catch {}
    }
  }
}
Supervisor.prototype.down = undefined
export function makeSupervisor(opts) {
  const s = new Supervisor(opts)
  s.down = new Set()
  s.holders = new Map() // host/unit -> socket holder process
  return s
}
