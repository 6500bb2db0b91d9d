// Time as a daemon sees it, injected so that tests drive timers by hand
// (test-support's ManualClock). One interface for every package: `now()`
// for ages and deadlines, `after`/`every` for timers that can be cancelled.

export interface Timer {
  cancel(): void
}

export interface TimerOptions {
  /** Does not keep the process alive on its own (Node's unref). */
  readonly background?: boolean
}

export interface Clock {
  /** Milliseconds since the epoch; monotonic in systemClock. */
  now(): number
  /** Runs fn once after ms. */
  after(ms: number, fn: () => void, opts?: TimerOptions): Timer
  /** Runs fn every ms until cancelled. */
  every(ms: number, fn: () => void, opts?: TimerOptions): Timer
}

/**
 * The real clock. now() is timeOrigin + performance.now(): it reads like
 * Date.now() but a wall-clock step (NTP, an operator's `date -s`) cannot
 * make an age negative or a timeout fire early.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  after(ms, fn, opts) {
    const h = setTimeout(fn, ms)
    if (opts?.background) h.unref()
    return { cancel: () => clearTimeout(h) }
  },
  every(ms, fn, opts) {
    const h = setInterval(fn, ms)
    if (opts?.background) h.unref()
    return { cancel: () => clearInterval(h) }
  },
}
