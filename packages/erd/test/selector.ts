import t from 'tap'
import {
  LinkSelector,
  type SelectorOptions,
  type SelectorEvent,
} from '../src/selector.js'

const OPTS: SelectorOptions = {
  updelay: 1000,
  downdelay: 0,
  primary_reselect: 'always',
  flap_limit: 0,
  flap_window: 30_000,
  hold_time: 10_000,
}
const both = { primary: true, secondary: true }
const switches = (ev: SelectorEvent[]) =>
  ev
    .filter(e => e.type === 'switch')
    .map(e => (e.type === 'switch' ? `${e.from}->${e.to}` : ''))

t.test(
  'starts on the primary when it is up, else the secondary, else none',
  async t => {
    t.equal(new LinkSelector(OPTS, 0, both).active, 'primary')
    t.equal(
      new LinkSelector(OPTS, 0, { primary: false, secondary: true }).active,
      'secondary',
    )
    t.equal(
      new LinkSelector(OPTS, 0, { primary: false, secondary: false }).active,
      null,
    )
  },
)

t.test('carrier loss switches at once; return waits for updelay', async t => {
  const s = new LinkSelector(OPTS, 0, both)
  t.same(switches(s.observe('primary', false, 100)), ['primary->secondary'])
  t.same(s.observe('primary', false, 150), [], 'repeated sample is a no-op')
  const back = s.observe('primary', true, 200)
  t.match(back, [
    { type: 'link', role: 'primary', phase: 'coming-up', delay: 1000 },
  ])
  t.equal(s.nextDeadline(), 1200)
  t.same(switches(s.tick(1199)), [])
  t.equal(s.active, 'secondary')
  t.same(switches(s.tick(1200)), ['secondary->primary'])
  t.equal(s.nextDeadline(), undefined)
})

t.test('flapping faster than updelay never switches back', async t => {
  const s = new LinkSelector(OPTS, 0, both)
  const all: SelectorEvent[] = []
  all.push(...s.observe('primary', false, 0))
  for (let now = 100; now < 5000; now += 400) {
    all.push(...s.observe('primary', true, now))
    all.push(...s.tick(now + 200))
    all.push(...s.observe('primary', false, now + 300))
  }
  t.same(switches(all), ['primary->secondary'])
  t.equal(s.active, 'secondary')
  t.equal(s.phase('primary'), 'down')
})

t.test('flap_limit turns updelay into hold_time', async t => {
  const s = new LinkSelector({ ...OPTS, flap_limit: 3 }, 0, both)
  for (const at of [0, 100, 200]) {
    s.observe('primary', false, at)
    s.observe('primary', true, at + 50)
  }
  t.match(s.snapshot(300).primary, {
    phase: 'coming-up',
    flapping: true,
    recentLosses: 3,
  })
  t.equal(s.nextDeadline(), 250 + 10_000)
  t.same(switches(s.tick(1250)), [], 'plain updelay is not enough')
  t.same(switches(s.tick(10_250)), ['secondary->primary'])
  t.equal(
    s.snapshot(40_000).primary.flapping,
    false,
    'losses age out of the window',
  )
})

t.test('downdelay: a short loss is ignored', async t => {
  const s = new LinkSelector({ ...OPTS, downdelay: 300 }, 0, both)
  t.match(s.observe('primary', false, 0), [
    { type: 'link', phase: 'going-down', delay: 300 },
  ])
  t.equal(s.active, 'primary')
  t.match(s.observe('primary', true, 100), [{ type: 'link', phase: 'up' }])
  s.observe('primary', false, 1000)
  t.same(switches(s.tick(1300)), ['primary->secondary'])
})

t.test(
  'primary_reselect failure stays on the secondary until it fails',
  async t => {
    const s = new LinkSelector(
      { ...OPTS, primary_reselect: 'failure', updelay: 0 },
      0,
      both,
    )
    s.observe('primary', false, 0)
    t.same(switches(s.observe('primary', true, 10)), [])
    t.equal(s.active, 'secondary')
    t.same(switches(s.observe('secondary', false, 20)), ['secondary->primary'])
  },
)

t.test('primary_reselect better compares link speeds', async t => {
  const s = new LinkSelector(
    { ...OPTS, primary_reselect: 'better', updelay: 0 },
    0,
    both,
  )
  s.setSpeed('primary', 1000)
  s.setSpeed('secondary', 1000)
  s.observe('primary', false, 0)
  t.same(switches(s.observe('primary', true, 10)), [], 'equal speed: stay')
  s.setSpeed('primary', 10_000)
  t.same(
    switches(
      s.reconfigure({ ...OPTS, primary_reselect: 'better', updelay: 0 }, 20),
    ),
    ['secondary->primary'],
  )
})

t.test(
  'both links down: none; the first back is taken without updelay',
  async t => {
    const s = new LinkSelector(OPTS, 0, both)
    s.observe('primary', false, 0)
    t.same(switches(s.observe('secondary', false, 10)), ['secondary->null'])
    const ev = s.observe('secondary', true, 20)
    t.same(switches(ev), ['null->secondary'])
    t.match(
      ev.filter(e => e.type === 'switch'),
      [{ reason: /updelay cut short/ }],
    )
  },
)

t.test('operator switch needs a usable link', async t => {
  const s = new LinkSelector(OPTS, 0, { primary: true, secondary: false })
  t.equal(s.force('secondary', 0), false)
  s.observe('secondary', true, 0)
  s.tick(1000)
  t.same(switches(s.force('secondary', 1000) as SelectorEvent[]), [
    'primary->secondary',
  ])
  t.same(s.force('secondary', 1001), [])
  t.same(switches(s.tick(1002)), [], 'pinned against primary_reselect')
  t.same(
    switches(s.observe('secondary', false, 1003)),
    ['secondary->primary'],
    'a pin ends when its link fails',
  )
  t.equal(s.pinned, null)
  s.observe('secondary', true, 1004)
  s.tick(2004)
  s.force('secondary', 2005)
  t.same(switches(s.force(null, 2006) as SelectorEvent[]), [
    'secondary->primary',
  ])
})
