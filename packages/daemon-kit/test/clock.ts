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

t.test(
  'systemClock: a background timer does not keep the process alive',
  async t => {
    // A child with one pending hour-long timer of each kind: it exits only
    // if both are background timers (a foreground one would hold it).
    const { execFile } = await import('node:child_process')
    const url = new URL('../dist/clock.js', import.meta.url).href
    const code = `import(${JSON.stringify(url)}).then(({ systemClock: c }) => {
      c.after(3600000, () => {}, { background: true })
      c.every(3600000, () => {}, { background: true })
    })`
    const exited = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, ['-e', code], err =>
        err ? reject(err) : resolve('exited'),
      )
      // Bounded: a held process is killed and the test fails with this.
      setTimeout(() => {
        child.kill()
        resolve('still running after 20 s')
      }, 20_000).unref()
    })
    t.equal(exited, 'exited')
  },
)
