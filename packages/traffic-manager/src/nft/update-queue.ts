// Kernel table writes where only the newest backend set matters. A write
// costs a process and a whole-table transaction, and load reports change
// weights several times a second: written one by one, a node's removal
// waited behind a queue of stale weight rewrites until its clients'
// retransmitted SYNs had timed out (chaos finding K). So pending states are
// coalesced (the newest wins, every waiter settles with its write), a
// membership change is written as soon as the write in flight ends, and a
// change of weights alone at most once per `weightIntervalMs`.

import type { Backend } from '../data-plane.js'

export interface UpdateQueueOptions {
  /**
   * Writes one backend set (the caller serialises it with its other work).
   * `membership`: it changes membership against the last set written (the
   * first write does); a plane logs those, not every weight change.
   */
  readonly write: (
    next: readonly Backend[],
    membership: boolean,
  ) => Promise<void>
  /** Least spacing of writes that change weights only (0: none). */
  readonly weightIntervalMs: number
  readonly now?: () => number
}

export interface UpdateQueue {
  /** Settles when a set at least as new as `next` is written (or failed). */
  push(next: readonly Backend[]): Promise<void>
  /** Drops a pending set (the plane closes); its waiters resolve. */
  clear(): void
}

interface Waiter {
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/**
 * Which nodes may get new connections and which are known at all: a change
 * here (added, removed, drained, revived) steers traffic off a dead node and
 * must not wait; the weight values of live nodes can.
 */
export function membershipKey(backends: readonly Backend[]): string {
  return backends
    .map(b => `${b.host}|${b.port}|${b.weight > 0 ? 1 : 0}`)
    .sort()
    .join(' ')
}

export function createUpdateQueue(o: UpdateQueueOptions): UpdateQueue {
  const now = o.now ?? Date.now
  let pending: { next: readonly Backend[]; waiters: Waiter[] } | undefined
  let writing = false
  let timer: NodeJS.Timeout | undefined
  let lastWriteAt = -Infinity
  // Membership of the last set written; undefined before the first write.
  let written: string | undefined

  const kick = (): void => {
    if (writing || !pending) return
    const key = membershipKey(pending.next)
    const wait =
      key !== written
        ? 0
        : Math.max(0, lastWriteAt + o.weightIntervalMs - now())
    if (wait > 0) {
      timer ??= setTimeout(() => {
        timer = undefined
        kick()
      }, wait)
      return
    }
    clearTimeout(timer)
    timer = undefined
    const job = pending
    pending = undefined
    writing = true
    lastWriteAt = now()
    o.write(job.next, key !== written)
      .then(
        () => {
          written = key
          for (const w of job.waiters) w.resolve()
        },
        (err: unknown) => {
          for (const w of job.waiters) w.reject(err)
        },
      )
      .finally(() => {
        writing = false
        kick()
      })
  }

  return {
    push: next =>
      new Promise<void>((resolve, reject) => {
        if (pending) {
          pending.next = next
          pending.waiters.push({ resolve, reject })
        } else pending = { next, waiters: [{ resolve, reject }] }
        kick()
      }),
    clear: () => {
      clearTimeout(timer)
      timer = undefined
      const job = pending
      pending = undefined
      for (const w of job?.waiters ?? []) w.resolve()
    },
  }
}

/** Default least spacing of weight-only writes. */
export const DEFAULT_WEIGHT_INTERVAL_MS = 1000

/** Option `weight-interval`: milliseconds, or with an `ms` or `s` suffix. */
export function parseWeightInterval(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v)
  const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN
  if (!Number.isInteger(ms) || ms > 60_000)
    throw new Error(
      `weight-interval: expected 0 to 60000 ms (or 0s to 60s), got "${v}"`,
    )
  return ms
}
