import t from 'tap'
import { ManualClock } from '../src/manual-clock.js'

t.test('advance fires due timers in time order at their own time', async t => {
  const c = new ManualClock(0)
  const seen: [string, number][] = []
  c.after(30, () => seen.push(['b', c.now()]))
  c.after(10, () => seen.push(['a', c.now()]))
  c.after(30, () => seen.push(['c', c.now()]))
  c.advance(25)
  t.same(seen, [['a', 10]])
  t.equal(c.now(), 25)
  c.advance(5)
  t.same(
    seen,
    [
      ['a', 10],
      ['b', 30],
      ['c', 30],
    ],
    'same due time: the order they were set',
  )
  t.equal(c.pending, 0)
})

t.test('every repeats until cancelled; cancel stops a timer', async t => {
  const c = new ManualClock(1000)
  let ticks = 0
  const tick = c.every(10, () => ticks++)
  const once = c.after(15, () => t.fail('cancelled timer fired'))
  once.cancel()
  c.advance(35)
  t.equal(ticks, 3)
  tick.cancel()
  c.advance(100)
  t.equal(ticks, 3)
  t.equal(c.pending, 0)
})

t.test('a timer set by a timer fires in the same advance', async t => {
  const c = new ManualClock(0)
  const at: number[] = []
  c.after(5, () => c.after(5, () => at.push(c.now())))
  c.advance(20)
  t.same(at, [10])
})

t.test('next, set and delayAll', async t => {
  const c = new ManualClock(0)
  const fired: number[] = []
  c.after(100, () => fired.push(c.now()))
  c.after(200, () => fired.push(c.now()))
  t.equal(c.next(), 100)
  c.delayAll(50)
  c.set(240)
  t.same(fired, [100], 'the 200 timer now falls due at 250')
  c.set(100)
  t.equal(c.now(), 240, 'set never moves time back')
  t.equal(c.next(), 250)
  t.throws(() => c.next(), /no timer pending/)
})
