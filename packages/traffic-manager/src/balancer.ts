// Per-process, per-service scheduling state for the userspace proxy: the
// current backends with their live connection counts, the scheduler, and
// the client-affinity (persistence) table. Pure apart from the injected
// clock; the proxy calls acquire/release around every connection.

import type { Backend, BackendCounters } from './data-plane.js'
import {
  createScheduler,
  type SchedulerName,
  type Scheduler,
} from './schedulers.js'
import { affinityKey, type AffinityGranularity } from './affinity-key.js'

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

/** Affinity entries per service and process unless configured. */
export const PERSIST_MAX_DEFAULT = 16_384

export interface BalancerOptions {
  scheduler: SchedulerName
  /** Client affinity lifetime after the last new connection; 0 = off. */
  persistentMs: number
  /** Affinity table cap; the least recently used entry goes first. */
  persistMax?: number
  /** Which clients share an entry (default: one per address). */
  granularity?: AffinityGranularity
  now?: () => number
  random?: () => number
  /** Called when an affinity entry is created or moved (for syncing). */
  onPersist?: (e: PersistEntry) => void
}

export class Balancer {
  readonly #slots = new Map<string, Slot>()
  #live: Slot[] = []
  #scheduler: Scheduler
  // Insertion order is recency order (a hit re-inserts): the first key is
  // the least recently used, evicted when the table is full.
  readonly #persist = new Map<string, { node: string; expiresAt: number }>()
  #persistentMs: number
  #persistMax: number
  #granularity: AffinityGranularity
  readonly #now: () => number
  readonly #random: (() => number) | undefined
  readonly #onPersist: ((e: PersistEntry) => void) | undefined
  #sweepAt = 0
  /** Affinity entries dropped because the table was full. */
  persistEvictions = 0

  constructor(opts: BalancerOptions) {
    this.#random = opts.random
    this.#scheduler = createScheduler(opts.scheduler, opts.random)
    this.#persistentMs = opts.persistentMs
    this.#persistMax = opts.persistMax ?? PERSIST_MAX_DEFAULT
    this.#granularity = opts.granularity ?? { v4Prefix: 32, v6Prefix: 128 }
    this.#now = opts.now ?? Date.now
    this.#onPersist = opts.onPersist
  }

  /**
   * Applies changed service settings in place (a reload that keeps the
   * listener): counts of open connections stay; the scheduler starts
   * fresh; the affinity table is kept unless its keys change meaning.
   */
  reconfigure(
    opts: Pick<
      BalancerOptions,
      'scheduler' | 'persistentMs' | 'persistMax' | 'granularity'
    >,
  ): void {
    this.#scheduler = createScheduler(opts.scheduler, this.#random)
    this.#persistentMs = opts.persistentMs
    this.#persistMax = opts.persistMax ?? PERSIST_MAX_DEFAULT
    const g = opts.granularity ?? { v4Prefix: 32, v6Prefix: 128 }
    if (
      opts.persistentMs === 0 ||
      g.v4Prefix !== this.#granularity.v4Prefix ||
      g.v6Prefix !== this.#granularity.v6Prefix
    ) {
      this.#persist.clear()
    }
    this.#granularity = g
    while (this.#persist.size > this.#persistMax) this.#evictOne()
  }

  /** The affinity key of a client address (granularity applied). */
  keyOf(client: string): string {
    return affinityKey(client, this.#granularity)
  }

  get persistSize(): number {
    return this.#persist.size
  }

  /** Replaces the backend set; counts of nodes that stay are kept. */
  update(backends: readonly (Backend & { load?: number })[]): void {
    const live: Slot[] = []
    for (const b of backends) {
      let s = this.#slots.get(b.id)
      if (!s) {
        s = {
          id: b.id,
          host: b.host,
          port: b.port,
          weight: 0,
          load: 0,
          active: 0,
          total: 0,
          bytesIn: 0,
          bytesOut: 0,
        }
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
  acquire(ip: string, exclude?: ReadonlySet<string>): Slot | undefined {
    let slot: Slot | undefined
    const ttl = this.#persistentMs
    if (ttl > 0) {
      const client = this.keyOf(ip)
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
        this.#put(client, entry)
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
  setPersist(
    ip: string,
    node: string,
    expiresAt: number,
    replace = false,
  ): void {
    const client = this.keyOf(ip)
    const cur = this.#persist.get(client)
    if (replace || !cur || cur.expiresAt <= expiresAt)
      this.#put(client, { node, expiresAt })
  }

  #put(client: string, entry: { node: string; expiresAt: number }): void {
    // Re-insert so the entry becomes the most recently used.
    if (!this.#persist.delete(client)) {
      while (this.#persist.size >= this.#persistMax && this.#persist.size > 0)
        this.#evictOne()
    }
    if (this.#persistMax > 0) this.#persist.set(client, entry)
  }

  #evictOne(): void {
    const oldest = this.#persist.keys().next()
    if (oldest.done) return
    this.#persist.delete(oldest.value)
    this.persistEvictions++
  }

  persistList(): PersistEntry[] {
    const now = this.#now()
    this.#sweep(now)
    return [...this.#persist].map(([client, p]) => ({ client, ...p }))
  }

  #sweep(now: number): void {
    for (const [c, p] of this.#persist)
      if (p.expiresAt <= now) this.#persist.delete(c)
    this.#sweepAt = now + Math.max(1000, this.#persistentMs / 4)
  }

  counters(): Map<string, BackendCounters> {
    const out = new Map<string, BackendCounters>()
    for (const s of this.#slots.values()) {
      out.set(s.id, {
        active: s.active,
        total: s.total,
        bytesIn: s.bytesIn,
        bytesOut: s.bytesOut,
      })
    }
    return out
  }

  get activeTotal(): number {
    let n = 0
    for (const s of this.#slots.values()) n += s.active
    return n
  }
}
