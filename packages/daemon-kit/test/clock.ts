import t from 'tap'
import { systemClock } from '../src/clock.js'

t.test(
  'systemClock: after fires once, every repeats, cancel stops',
  async t => {
    // No timing is asserted: only that timers fire, repeat and stop.
    const t0 = systemClock.now()
    await new Promise<void>(resolve => {
      systemClock.after(5, () => {
        t.ok(systemClock.now() >= t0, 'now() does not go back')
        resolve()
      })
    })
    let n = 0
    await new Promise<void>(resolve => {
      const timer = systemClock.every(2, () => {
        if (++n === 3) {
          timer.cancel()
          resolve()
        }
      })
    })
    const cancelled = systemClock.after(1, () => t.fail('cancelled timer ran'))
    cancelled.cancel()
    // A later timer has fired by the time this resolves: the cancelled one
    // (due earlier) would have run before it.
    await new Promise<void>(resolve => systemClock.after(10, resolve))
    t.equal(n, 3, 'every() stopped at cancel')
  },
)
