// systemd-like supervision of every host's units: start in order, restart
// as the unit's Restart=/RestartSec=/RestartPreventExitStatus= say, and a
// record of every exit. Each process runs in its own process group (as
// systemd's cgroup) so a crash or power-off takes its children too.
import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { argvOf } from './deploy.js'
import { wouldRestart } from './unit-file.js'

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

  key(host, unit) { return `${host.id}/${unit.name}` }
  now() { return (Date.now() - this.t0) / 1000 }

  start(host, unit) {
    const k = this.key(host, unit)
    const argv = [...this.topo.enter(host.id), ...argvOf(this.ROOT, unit)]
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const log = createWriteStream(join(this.logDir, `${host.id}-${unit.name}.log`), { flags: 'a' })
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
        for (const w of [...rec.waiters]) if (w.re.test(line)) { rec.waiters.splice(rec.waiters.indexOf(w), 1); w.resolve(line) }
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code, signal) => {
      log.write(`--- ${new Date().toISOString()} exit code=${code} signal=${signal}\n`)
      log.end()
      for (const w of rec.waiters) w.reject(new Error(`${k} exited (${code ?? signal}) before ${w.re}`))
      if (this.procs.get(k) === rec) this.procs.delete(k)
      const restart = !rec.expected && !this.stopping && wouldRestart(unit, code, signal)
      this.exits.push({ t: this.now(), host: host.id, unit: unit.name, code, signal, expected: rec.expected, provoked: rec.provoked ?? null, restarted: restart })
      if (restart) {
        rec.restartTimer = setTimeout(() => {
          if (!this.stopping && !this.procs.has(k) && !this.down.has(host.id)) this.start(host, unit)
        }, unit.restartMs)
      }
    })
    this.procs.set(k, rec)
    return rec
  }

  /** Resolves with the first output line matching re (bounded). */
  waitLine(host, unitName, re, ms = 30_000) {
    const rec = this.procs.get(`${host.id}/${unitName}`)
    if (!rec) return Promise.reject(new Error(`${host.id}/${unitName} not running`))
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${host.id}/${unitName}: no line matching ${re} within ${ms} ms`)), ms)
      rec.waiters.push({ re, resolve: l => { clearTimeout(t); resolve(l) }, reject: e => { clearTimeout(t); reject(e) } })
    })
  }

  pid(host, unitName) { return this.procs.get(`${host.id}/${unitName}`)?.child.pid }

  /** A fault: signal the unit's process group; provoked exits are labelled. */
  signal(host, unitName, sig, label) {
    const rec = this.procs.get(`${host.id}/${unitName}`)
    if (!rec) return false
    rec.provoked = label
    try { process.kill(-rec.child.pid, sig) } catch { return false }
    return true
  }

  /** Power-off: every process of the host dies at once, nothing restarts. */
  powerOff(host) {
    this.down.add(host.id)
    for (const rec of [...this.procs.values()].filter(r => r.host === host)) {
      rec.expected = true
      try { process.kill(-rec.child.pid, 'SIGKILL') } catch {}
    }
  }

  stopAll() {
    this.stopping = true
    for (const rec of this.procs.values()) {
      rec.expected = true
      try { process.kill(-rec.child.pid, 'SIGKILL') } catch {}
    }
  }
}
Supervisor.prototype.down = undefined
export function makeSupervisor(opts) {
  const s = new Supervisor(opts)
  s.down = new Set()
  return s
}
