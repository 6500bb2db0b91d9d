// The receiving side's path into the kernel: changes queue per flow and go
// out in batches, one batch at a time, at most `ratePerS` flows a second.
// Per flow the last change wins while it waits (a removal replaces a
// queued insert); a change for a flow in the running batch waits for the
// next one, so a removal never overtakes the insert it cancels.

import { flowKey, type FlowKey } from './flow.js'
import type { KernelOp } from './conntrack.js'

export interface KernelQueueOptions {
  readonly apply: (ops: readonly KernelOp[]) => Promise<boolean[]>
  /** Called once per op with its result (and its flowKey), before the next batch starts. */
  readonly onResult: (op: KernelOp, ok: boolean, key: FlowKey) => void
  /** Called after every batch and when the queue becomes idle. */
  readonly onProgress?: () => void
  readonly maxBatch: number
  readonly ratePerS: number
  readonly now: () => number
}

export interface KernelQueueStats {
  readonly pending: number
  readonly inflight: number
  readonly applied: number
  readonly failed: number
  readonly batches: number
  readonly lastBatch?: { readonly flows: number; readonly ms: number }
}

export class KernelQueue {
  readonly #o: KernelQueueOptions
  readonly #pending = new Map<FlowKey, KernelOp>()
  #inflight = new Set<FlowKey>()
  #running = false
  #timer: NodeJS.Timeout | undefined
  #rate: number
  #tokens: number
  #tokensAt: number
  #closed = false
  #paused = false
  #soon = false
  #applied = 0
  #failed = 0
  #batches = 0
  #last: { flows: number; ms: number } | undefined

  constructor(o: KernelQueueOptions) {
    this.#o = o
    this.#rate = o.ratePerS
    this.#tokens = o.ratePerS
    this.#tokensAt = o.now()
  }

  /** A reload may change the rate (max-insert-rate). */
  set ratePerS(n: number) {
    this.#rate = n
  }

  /** `key` is flowKey(op.flow), when the caller has it already. */
  push(op: KernelOp, key: FlowKey = flowKey(op.flow)): void {
    if (this.#closed) return
    this.#pending.delete(key) // last change wins, and goes to the back
    this.#pending.set(key, op)
    // Next turn: the records of one datagram (or a burst) share a batch.
    if (!this.#soon) {
      this.#soon = true
      setImmediate(() => {
        this.#soon = false
        this.#kick()
      })
    }
  }

  /** Holds changes back (they keep queueing) until resume(), e.g. while stale entries are purged. */
  pause(): void {
    this.#paused = true
  }

  resume(): void {
    this.#paused = false
    this.#kick()
  }

  /** Whether a change for this flow is queued or being applied. */
  has(key: FlowKey): boolean {
    return this.#pending.has(key) || this.#inflight.has(key)
  }

  get idle(): boolean {
    return !this.#running && !this.#paused && this.#pending.size === 0
  }

  stats(): KernelQueueStats {
    return {
      pending: this.#pending.size,
      inflight: this.#inflight.size,
      applied: this.#applied,
      failed: this.#failed,
      batches: this.#batches,
      ...(this.#last ? { lastBatch: this.#last } : {}),
    }
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#pending.clear()
  }

  #kick(): void {
    if (
      this.#running ||
      this.#paused ||
      this.#timer ||
      this.#closed ||
      this.#pending.size === 0
    )
      return
    // Token bucket: `ratePerS` flows a second, bursts up to one second's worth.
    const now = this.#o.now()
    const rate = this.#rate
    this.#tokens = Math.min(
      rate,
      this.#tokens + ((now - this.#tokensAt) * rate) / 1000,
    )
    this.#tokensAt = now
    const n = Math.min(
      this.#o.maxBatch,
      this.#pending.size,
      Math.floor(this.#tokens),
    )
    if (n < 1) {
      const waitMs = Math.ceil(((1 - this.#tokens) * 1000) / rate)
      this.#timer = setTimeout(
        () => {
          this.#timer = undefined
          this.#kick()
        },
        Math.max(1, waitMs),
      )
      return
    }
    this.#tokens -= n
    const batch: KernelOp[] = []
    const keys: FlowKey[] = []
    for (const [key, op] of this.#pending) {
      if (batch.length >= n) break
      this.#pending.delete(key)
      this.#inflight.add(key)
      batch.push(op)
      keys.push(key)
    }
    void this.#run(batch, keys)
  }

  async #run(batch: KernelOp[], keys: FlowKey[]): Promise<void> {
    this.#running = true
    const t0 = this.#o.now()
    let results: boolean[]
    try {
      results = await this.#o.apply(batch)
    } catch {
      results = batch.map(() => false)
    }
    this.#batches++
    this.#last = { flows: batch.length, ms: this.#o.now() - t0 }
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i] as KernelOp
      const key = keys[i] as FlowKey
      const ok = results[i] === true
      if (ok) this.#applied++
      else this.#failed++
      this.#inflight.delete(key)
      if (!this.#closed) this.#o.onResult(op, ok, key)
    }
    this.#running = false
    this.#kick()
    this.#o.onProgress?.()
  }
}
