// Time as the daemon sees it: injected so tests drive timers by hand.

export interface Timer {
  cancel(): void
}

export interface Clock {
  now(): number
  after(ms: number, fn: () => void): Timer
  every(ms: number, fn: () => void): Timer
}

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
