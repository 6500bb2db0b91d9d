// The proxy's share of the process's descriptor limit. At the limit, libuv
// resets each new connection inside its accept path (it frees a spare
// descriptor, accepts and closes), and no error reaches the listener: the
// only sign would be clients' resets. Each relayed connection holds two
// descriptors; counting them against the soft limit (read once from
// /proc/self/limits) lets the proxy say so, as HAProxy and nginx do: a
// warning from WARN_SHARE of the limit, an error once the next connection
// cannot get its two, each at most once per REPORT_EVERY_MS.

import { readdirSync, readFileSync } from 'node:fs'
import type { Logger } from '@has/daemon-kit/logger'
import { systemClock, type Clock } from '@has/daemon-kit/clock'

/** Share of the limit from which the proxy warns. */
export const WARN_SHARE = 0.9
/** At most one warning and one error line per this many ms. */
export const REPORT_EVERY_MS = 60_000

/** The soft "Max open files" of /proc/PID/limits; Infinity when absent or "unlimited". */
export function parseNofileLimit(limits: string): number {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)
  return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity
}

export class FdBudget {
  /** Relayed connections open in this process (all services). */
  open = 0
  #warnedAt = -Infinity
  #fullAt = -Infinity

  constructor(
    /** The soft descriptor limit. */
    readonly limit: number,
    /** Descriptors open before any connection (sockets, files, the runtime's). */
    readonly base: number,
    readonly clock: Clock = systemClock,
  ) {}

  /** Descriptors in use, as counted: base plus two per open connection. */
  get used(): number {
    return this.base + 2 * this.open
  }

  /** A connection was accepted: count it, and say so when the limit is near. */
  opened(log: Logger): void {
    this.open++
    const used = this.used
    if (used < WARN_SHARE * this.limit) return
    const now = this.clock.now()
    const facts = { open: this.open, used, limit: this.limit }
    if (used + 2 > this.limit) {
      if (now - this.#fullAt < REPORT_EVERY_MS) return
      this.#fullAt = now
      log.error(
        facts,
        'descriptor limit reached: new connections are reset until some close (raise LimitNOFILE)',
      )
    } else if (now - this.#warnedAt >= REPORT_EVERY_MS) {
      this.#warnedAt = now
      log.warn(facts, 'proxy near its descriptor limit (raise LimitNOFILE)')
    }
  }

  closed(): void {
    if (this.open > 0) this.open--
  }
}

let shared: FdBudget | undefined

/** The process's budget, measured on first use (Linux /proc; elsewhere no limit). */
export function processFdBudget(): FdBudget {
  if (shared) return shared
  let limit = Infinity
  let base = 0
  try {
    limit = parseNofileLimit(readFileSync('/proc/self/limits', 'utf8'))
    base = readdirSync('/proc/self/fd').length
  } catch {
    // No /proc: nothing to count against.
  }
  shared = new FdBudget(limit, base)
  return shared
}
