// Stat of a mounted replica in a child process with a hard timeout. A stat
// on a dead hard-mounted NFS server blocks in the kernel; doing it in our
// own process (even on libuv's thread pool) would sooner or later freeze
// the daemon. A child that hangs is abandoned (SIGKILL sent, never awaited)
// and no second probe starts for that replica for five more timeouts, so
// hung children cannot pile up.

import { execCommand } from './exec.js'

export interface StatResult {
  readonly ok: boolean
  readonly ms: number
  readonly error?: string
}

export class StatProbe {
  #inFlight = false

  constructor(
    readonly path: string,
    readonly statPath = 'stat',
  ) {}

  get busy(): boolean {
    return this.#inFlight
  }

  async probe(timeoutMs: number): Promise<StatResult> {
    if (this.#inFlight)
      return { ok: false, ms: 0, error: 'previous stat still hung' }
    this.#inFlight = true
    const r = await execCommand(
      this.statPath,
      ['-c', '%i', `${this.path}/.`],
      timeoutMs,
    )
    if (!r.timedOut) this.#inFlight = false
    else {
      // Keep later probes off a replica whose stat just hung.
      setTimeout(() => (this.#inFlight = false), timeoutMs * 5).unref()
    }
    if (r.timedOut)
      return { ok: false, ms: r.ms, error: `stat hung > ${timeoutMs} ms` }
    if (r.code !== 0)
      return {
        ok: false,
        ms: r.ms,
        error: r.spawnError ?? (r.stderr.trim() || `exit ${r.code}`),
      }
    return { ok: true, ms: r.ms }
  }
}
