// A Clock (daemon-kit) that moves only when the test says so: advance()
// runs due timers in time order, each seeing now() at its own due time,
// so timer-driven logic is tested without real time.

import type { Clock, Timer } from '@has/daemon-kit'

interface Pending {
  readonly id: number
  due: number
  readonly every: number | undefined
  readonly fn: () => void
}

export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers = new Map<number, Pending>()

  constructor(start = 1_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  after(ms: number, fn: () => void): Timer {
    return this.#add(ms, undefined, fn)
  }

  every(ms: number, fn: () => void): Timer {
    // A zero period would never let advance() finish.
    return this.#add(ms, Math.max(1, ms), fn)
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.#timers.size
  }

  /** Moves time forward by ms, firing every timer that falls due. */
  advance(ms: number): void {
    const end = this.#now + ms
    for (;;) {
      const next = this.#next()
      if (!next || next.due > end) break
      this.#now = next.due
      if (next.every === undefined) this.#timers.delete(next.id)
      else next.due += next.every
      next.fn()
    }
    this.#now = end
  }

  /**
   * Fires the earliest pending timer, moving time to its due time (never
   * back); returns the new now(). Throws when nothing is pending.
   */
  next(): number {
    const next = this.#next()
    if (!next) throw new Error('ManualClock.next(): no timer pending')
    this.#now = Math.max(this.#now, next.due)
    if (next.every === undefined) this.#timers.delete(next.id)
    else next.due += next.every
    next.fn()
    return this.#now
  }

  /** Makes every pending timer fire ms late, as a busy event loop does. */
  delayAll(ms: number): void {
    for (const p of this.#timers.values()) p.due += ms
  }

  /** Sets the time (forward only) and fires what fell due. */
  set(ms: number): void {
    if (ms > this.#now) this.advance(ms - this.#now)
  }

  #add(ms: number, every: number | undefined, fn: () => void): Timer {
    const id = ++this.#seq
    this.#timers.set(id, { id, due: this.#now + Math.max(0, ms), every, fn })
    return { cancel: () => void this.#timers.delete(id) }
  }

  #next(): Pending | undefined {
    let best: Pending | undefined
    for (const p of this.#timers.values()) {
      if (!best || p.due < best.due || (p.due === best.due && p.id < best.id))
        best = p
    }
    return best
  }
}
