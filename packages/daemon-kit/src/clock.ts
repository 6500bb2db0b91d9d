// Time as a daemon sees it, injected so that tests drive timers by hand
// (test-support's ManualClock). One interface for every package: `now()`
// for ages and deadlines, `after`/`every` for timers that can be cancelled.

export interface Timer {
  cancel(): void
}

export interface Clock {
  /** Milliseconds since the epoch; monotonic in systemClock. */
  now(): number
  /** Runs fn once after ms. */
  after(ms: number, fn: () => void): Timer
  /** Runs fn every ms until cancelled. */
  every(ms: number, fn: () => void): Timer
}

/**
 * The real clock. now() is timeOrigin + performance.now(): it reads like
 * Date.now() but a wall-clock step (NTP, an operator's `date -s`) cannot
 * make an age negative or a timeout fire early.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  after(ms, fn) {
    const h = setTimeout(fn, ms)
    return { cancel: () => clearTimeout(h) }
  },
  every(ms, fn) {
    const h = setInterval(fn, ms)
    return { cancel: () => clearInterval(h) }
  },
}
