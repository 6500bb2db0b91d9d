// Per-process, per-service scheduling state for the userspace proxy: the
// current backends with their live connection counts, the scheduler, and
// the client-affinity (persistence) table. Pure apart from the injected
// clock; the proxy calls acquire/release around every connection.

import type { Backend, BackendCounters } from './data-plane.js'
import { createScheduler, type SchedulerName, type Scheduler } from './schedulers.js'

export interface Slot {
  readonly id: string
  host: string
  port: number
  weight: number
  load: number
  active: number
  total: number
  bytesIn: number
  bytesOut: number
}

export interface PersistEntry {
  readonly client: string
  readonly node: string
  readonly expiresAt: number
}

export interface BalancerOptions {
  scheduler: SchedulerName
  /** Client affinity lifetime after the last new connection; 0 = off. */
  persistentMs: number
  now?: () => number
  random?: () => number
  /** Called when an affinity entry is created or moved (for syncing). */
  onPersist?: (e: PersistEntry) => void
}

export class Balancer {
  readonly #slots = new Map<string, Slot>()
  #live: Slot[] = []
  readonly #scheduler: Scheduler
  readonly #persist = new Map<string, { node: string; expiresAt: number }>()
  readonly #persistentMs: number
  readonly #now: () => number
  readonly #onPersist: ((e: PersistEntry) => void) | undefined
  #sweepAt = 0

  constructor(opts: BalancerOptions) {
    this.#scheduler = createScheduler(opts.scheduler, opts.random)
    this.#persistentMs = opts.persistentMs
    this.#now = opts.now ?? Date.now
    this.#onPersist = opts.onPersist
  }

  /** Replaces the backend set; counts of nodes that stay are kept. */
  update(backends: readonly (Backend & { load?: number })[]): void {
    const live: Slot[] = []
    for (const b of backends) {
      let s = this.#slots.get(b.id)
      if (!s) {
        s = { id: b.id, host: b.host, port: b.port, weight: 0, load: 0, active: 0, total: 0, bytesIn: 0, bytesOut: 0 }
        this.#slots.set(b.id, s)
      }
      s.host = b.host
      s.port = b.port
      s.weight = b.weight
      s.load = b.load ?? 0
      live.push(s)
    }
    this.#live = live
  }

  /** Picks a node for a new connection from `client` and counts it active. */
  acquire(client: string, exclude?: ReadonlySet<string>): Slot | undefined {
    let slot: Slot | undefined
    const ttl = this.#persistentMs
    if (ttl > 0) {
      const now = this.#now()
      if (now >= this.#sweepAt) this.#sweep(now)
      const p = this.#persist.get(client)
      if (p && p.expiresAt > now && !exclude?.has(p.node)) {
        const s = this.#slots.get(p.node)
        if (s && s.weight > 0 && this.#live.includes(s)) slot = s
      }
      slot ??= this.#scheduler.pick(this.#live, exclude)
      if (slot) {
        const moved = p?.node !== slot.id
        // Tell peers only when something they hold would change much.
        const notify = moved || !p || p.expiresAt - now < ttl / 2
        const entry = { node: slot.id, expiresAt: now + ttl }
        this.#persist.set(client, entry)
        if (notify) this.#onPersist?.({ client, ...entry })
      }
    } else {
      slot = this.#scheduler.pick(this.#live, exclude)
    }
    if (slot) slot.active++
    return slot
  }

  /** A connect attempt failed: undo acquire without counting a connection. */
  abandon(slot: Slot): void {
    slot.active--
  }

  /** Connection finished; bytes as seen from the client side. */
  release(slot: Slot, bytesIn: number, bytesOut: number): void {
    slot.active--
    slot.total++
    slot.bytesIn += bytesIn
    slot.bytesOut += bytesOut
  }

  /**
   * Learns an affinity entry. From a sibling worker the later expiry wins
   * (merging two views); `replace` (persist-set) overwrites.
   */
  setPersist(client: string, node: string, expiresAt: number, replace = false): void {
    const cur = this.#persist.get(client)
    if (replace || !cur || cur.expiresAt <= expiresAt) this.#persist.set(client, { node, expiresAt })
  }

  persistList(): PersistEntry[] {
    const now = this.#now()
    this.#sweep(now)
    return [...this.#persist].map(([client, p]) => ({ client, ...p }))
  }

  #sweep(now: number): void {
    for (const [c, p] of this.#persist) if (p.expiresAt <= now) this.#persist.delete(c)
    this.#sweepAt = now + Math.max(1000, this.#persistentMs / 4)
  }

  counters(): Map<string, BackendCounters> {
    const out = new Map<string, BackendCounters>()
    for (const s of this.#slots.values()) {
      out.set(s.id, { active: s.active, total: s.total, bytesIn: s.bytesIn, bytesOut: s.bytesOut })
    }
    return out
  }

  get activeTotal(): number {
    let n = 0
    for (const s of this.#slots.values()) n += s.active
    return n
  }
}
