// Load reports in: each datagram goes to the live table (which counts what
// it accepts and drops), drops are logged (rate-limited), and a timer
// expires nodes that fall silent.
// Table changes are reported through onChange; the caller recomputes.

import {
  createDropLog,
  type Clock,
  type DropLog,
  type Logger,
  type Timer,
} from '@has/daemon-kit/core'
import type { Membership } from './membership.js'

export interface ReportIntakeOptions {
  readonly membership: Membership
  readonly clock: Clock
  readonly log: Logger
  /** The table changed: backend sets need a recompute. */
  readonly onChange: () => void
  /**
   * Runs fn once the reports already queued in the kernel are read
   * (default: setImmediate, after this loop turn's poll phase).
   */
  readonly afterIo?: (fn: () => void) => void
}

const afterPoll = (fn: () => void): void => void setImmediate(fn)

export class ReportIntake {
  readonly #o: ReportIntakeOptions
  readonly #dropLog: DropLog
  #expiry: Timer | undefined
  #closed = false

  constructor(o: ReportIntakeOptions) {
    this.#o = o
    this.#dropLog = createDropLog(o.log, {
      what: 'load reports',
      clock: o.clock,
    })
  }

  /** One datagram from the report socket. */
  readonly receive = (
    msg: Buffer,
    from: { address: string; port: number },
  ): void => {
    const { membership, log } = this.#o
    const res = membership.table.receive(msg, from.address)
    if (!res.accepted) {
      this.#dropLog.drop(res.reason, from.address)
      log.debug(
        { reason: res.reason, detail: res.detail, from: from.address },
        'report dropped',
      )
      return
    }
    if (res.joined) {
      log.info(
        {
          node: res.node,
          from: from.address,
          services: membership.servicesOf(res.node),
        },
        'node joined by itself (autojoin)',
      )
    }
    if (res.statusChanged) {
      const e = membership.table.get(res.node)
      log.info(
        { node: res.node, state: e?.status, load: e?.load, sender: e?.sender },
        'node state changed',
      )
    }
    if (res.changed) this.#o.onChange()
    this.#scheduleExpiry()
  }

  /** Re-arms the expiry timer (a reload may change the timeout). */
  rearm(): void {
    this.#expiry?.cancel()
    this.#expiry = undefined
    this.#scheduleExpiry()
  }

  /** Stops the timer; the pending drop summary is logged now. */
  close(): void {
    this.#closed = true
    this.#expiry?.cancel()
    this.#expiry = undefined
    this.#dropLog.flush()
  }

  #scheduleExpiry(): void {
    if (this.#expiry) return
    const { table } = this.#o.membership
    const at = table.nextExpiry()
    if (at === undefined) return
    const clock = this.#o.clock
    // A node is judged silent only after the reports already in the kernel
    // are read: when this process was stalled (CPU starvation, SIGSTOP)
    // its timers fire before the poll phase, and every node would expire
    // on reports that are waiting in the socket.
    const due = (): void => {
      if (this.#expiry !== timer || this.#closed) return
      this.#expiry = undefined
      const gone = table.expire()
      for (const node of gone) {
        const auto = table.get(node) === undefined
        this.#o.log.warn(
          { node, timeoutMs: table.timeoutMs, ...(auto ? { auto } : {}) },
          auto
            ? 'auto-joined node silent past timeout; left'
            : 'node silent past timeout; removed',
        )
      }
      if (gone.length) this.#o.onChange()
      this.#scheduleExpiry()
    }
    const timer = clock.after(Math.max(0, at - clock.now()), () =>
      (this.#o.afterIo ?? afterPoll)(due),
    )
    this.#expiry = timer
  }
}
