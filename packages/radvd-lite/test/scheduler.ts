import t from 'tap'
import {
  RaScheduler,
  MAX_INITIAL_RTR_ADVERT_INTERVAL,
  MIN_DELAY_BETWEEN_RAS,
  MAX_RA_DELAY_TIME,
  MAX_PENDING_UNICAST,
} from '../src/scheduler.js'

// A scripted random source: returns the queued values, then `rest`.
function rnd(values: number[], rest = 0.5) {
  return () => (values.length ? values.shift()! : rest)
}

t.test(
  'first RA at once, first 3 intervals capped at 16 s, then Min..Max',
  async t => {
    const s = new RaScheduler({ min: 200, max: 600, random: rnd([], 0.99) })
    t.equal(s.nextAt(), Infinity, 'nothing before start')
    s.start(1000)
    t.equal(s.nextAt(), 1000)
    let now = 1000
    const gaps: number[] = []
    for (let i = 0; i < 5; i++) {
      t.same(s.due(now), [{ kind: 'unsolicited' }])
      gaps.push(s.nextAt() - now)
      now = s.nextAt()
    }
    t.same(gaps.slice(0, 3), [
      MAX_INITIAL_RTR_ADVERT_INTERVAL,
      MAX_INITIAL_RTR_ADVERT_INTERVAL,
      MAX_INITIAL_RTR_ADVERT_INTERVAL,
    ])
    t.ok(
      gaps[3]! > 590_000 && gaps[3]! <= 600_000,
      `regular interval ${gaps[3]}`,
    )
    t.same(s.due(now - 1), [], 'nothing early')
  },
)

t.test('interval is uniform between Min and Max', async t => {
  const lo = new RaScheduler({ min: 30, max: 60, random: rnd([], 0) })
  lo.start(0)
  for (let i = 0; i < 4; i++) lo.due(lo.nextAt())
  const at = lo.nextAt()
  lo.due(at)
  t.equal(lo.nextAt() - at, 30_000, 'random 0 gives Min')
  const hi = new RaScheduler({ min: 30, max: 60, random: rnd([], 0.5) })
  hi.start(0)
  for (let i = 0; i < 4; i++) hi.due(hi.nextAt())
  const at2 = hi.nextAt()
  hi.due(at2)
  t.equal(hi.nextAt() - at2, 45_000, 'random 0.5 gives the middle')
})

t.test(
  'multicast answer to an RS: delayed 0..0.5 s, at least 3 s after the last',
  async t => {
    const s = new RaScheduler({ min: 200, max: 600, random: rnd([0, 1], 0.5) })
    s.start(0)
    t.same(s.due(0), [{ kind: 'unsolicited' }])
    // RS from :: must be answered by multicast; 1 s after the last RA.
    s.solicit(1000, '::', true)
    t.equal(
      s.nextAt(),
      MIN_DELAY_BETWEEN_RAS,
      'rate limited to 3 s after the last multicast',
    )
    t.same(s.due(2999), [])
    t.same(s.due(3000), [{ kind: 'solicited' }])
    // Long after: answered within MAX_RA_DELAY_TIME.
    const s2 = new RaScheduler({
      min: 200,
      max: 600,
      random: rnd([0.5, 0.4], 0.5),
    })
    s2.start(0)
    s2.due(0)
    s2.solicit(10_000, '::', false)
    t.equal(s2.nextAt(), 10_000 + 0.4 * MAX_RA_DELAY_TIME)
    // A second RS meanwhile does not add another RA.
    s2.solicit(10_050, '::', false)
    t.same(s2.due(10_200), [{ kind: 'solicited' }])
    t.same(s2.due(10_300), [])
  },
)

t.test('an RS folds into an unsolicited RA that comes first', async t => {
  const s = new RaScheduler({ min: 4, max: 4, random: rnd([], 0.9) })
  s.start(0)
  s.due(0) // next unsolicited at 4000
  s.solicit(3800, '::', true)
  t.equal(s.nextAt(), 4000)
  t.same(s.due(4000), [{ kind: 'unsolicited' }], 'one RA serves both')
})

t.test('deferred unsolicited RA honours MIN_DELAY_BETWEEN_RAS', async t => {
  const s = new RaScheduler({ min: 10, max: 20, random: rnd([0, 0], 0) })
  s.start(0)
  s.due(0)
  s.solicit(100, '::', false) // solicited at 3000 (3 s after)
  t.same(s.due(3000), [{ kind: 'solicited' }])
  // Restart (reload) right after: the first RA waits for the 3 s spacing.
  s.reconfigure(3100, 10, 20)
  t.equal(s.nextAt(), 6000)
  t.same(s.due(3100), [], 'too early')
  t.same(s.due(6000), [{ kind: 'unsolicited' }])
  t.equal(s.lastMulticastAt, 6000)
})

t.test('unsolicited due within the spacing window is pushed back', async t => {
  const s = new RaScheduler({ min: 3, max: 4, random: rnd([], 0) })
  s.start(0)
  s.due(0)
  s.reconfigure(1000, 3, 4) // asks for an RA at once... not before 3000
  t.equal(s.nextAt(), 3000)
  // Called early anyway (timer skew): nothing sent, time moved to 3000.
  const s2 = new RaScheduler({ min: 3, max: 4, random: rnd([], 0) })
  s2.start(0)
  s2.due(0)
  s2.solicit(500, '::', false)
  const due = s2.nextAt()
  t.equal(due, 3000)
})

t.test('unicast answers: delayed, deduplicated, bounded', async t => {
  const s = new RaScheduler({ min: 200, max: 600, random: rnd([], 0.5) })
  s.start(0)
  s.due(0)
  s.solicit(1000, 'fe80::1', true)
  s.solicit(1100, 'fe80::1', true)
  t.equal(s.nextAt(), 1250)
  t.same(s.due(1250), [{ kind: 'unicast', dst: 'fe80::1' }])
  t.same(s.due(1300), [], 'answered once')
  for (let i = 0; i < MAX_PENDING_UNICAST; i++)
    s.solicit(2000, `fe80::${i + 10}`, true)
  s.solicit(2000, 'fe80::99', true) // over the bound -> one multicast
  const out = s.due(5000)
  t.equal(out.filter(a => a.kind === 'unicast').length, MAX_PENDING_UNICAST)
  t.same(
    out.filter(a => a.kind !== 'unicast'),
    [{ kind: 'solicited' }],
  )
})
