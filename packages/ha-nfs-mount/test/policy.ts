import t from 'tap'
import { FailoverPolicy } from '../src/policy.js'

const mk = (failbackHoldMs: number | null = 1000, failures = 3) =>
  new FailoverPolicy({ servers: ['a', 'b'], failures, failbackHoldMs })

const round = (p: FailoverPolicy, now: number, a: boolean, b: boolean) => {
  p.sample('a', a, now)
  p.sample('b', b, now)
  return p.decide(now)
}

t.test(
  'nothing presented until a server answers; prefers the first',
  async t => {
    const p = mk()
    t.equal(p.active, null)
    t.same(round(p, 0, false, false), { kind: 'stay' })
    t.equal(p.active, null)
    t.match(round(p, 100, true, true), {
      kind: 'switch',
      to: 'a',
      from: null,
      reason: 'initial',
    })
  },
)

t.test('second server at start only once the first failed N times', async t => {
  const p = mk(null, 3)
  t.same(round(p, 0, false, true), { kind: 'stay' })
  t.same(round(p, 1, false, true), { kind: 'stay' })
  t.equal(p.active, null)
  t.match(round(p, 2, false, true), {
    kind: 'switch',
    to: 'b',
    reason: 'initial',
  })
})

t.test(
  'a slow first probe of the preferred server does not pin the second',
  async t => {
    const p = mk(null, 3)
    t.same(round(p, 0, false, true), { kind: 'stay' })
    t.match(round(p, 1, true, true), { kind: 'switch', to: 'a' })
  },
)

t.test('fails over after N consecutive failures, not before', async t => {
  const p = mk(null, 3)
  round(p, 0, true, true)
  t.same(round(p, 1, false, true), { kind: 'stay' })
  t.same(round(p, 2, false, true), { kind: 'stay' })
  t.match(round(p, 3, false, true), {
    kind: 'switch',
    to: 'b',
    from: 'a',
    reason: 'a failed',
  })
})

t.test('a success resets the failure count', async t => {
  const p = mk(null, 2)
  round(p, 0, true, true)
  round(p, 1, false, true)
  round(p, 2, true, true)
  t.same(round(p, 3, false, true), { kind: 'stay' })
  t.equal(p.active, 'a')
})

t.test('fails back only after the hold time', async t => {
  const p = mk(1000, 1)
  round(p, 0, true, true)
  round(p, 10, false, true)
  t.equal(p.active, 'b')
  t.same(round(p, 20, true, true), { kind: 'stay' }, 'a healthy since 20')
  t.same(round(p, 1019, true, true), { kind: 'stay' })
  round(p, 500, false, true) // flap: the hold restarts
  t.same(round(p, 1100, true, true), { kind: 'stay' })
  t.match(round(p, 2100, true, true), {
    kind: 'switch',
    to: 'a',
    reason: /failback/,
  })
})

t.test('never fails back with hold null', async t => {
  const p = mk(null, 1)
  round(p, 0, true, true)
  round(p, 1, false, true)
  t.same(round(p, 1e9, true, true), { kind: 'stay' })
  t.equal(p.active, 'b')
})

t.test('stays on the last server when all fail', async t => {
  const p = mk(null, 1)
  round(p, 0, true, true)
  t.same(round(p, 1, false, false), { kind: 'stay' })
  t.equal(p.active, 'a')
  t.match(round(p, 2, false, true), { kind: 'switch', to: 'b' })
})

t.test('revert after a failed swap, health exposed', async t => {
  const p = mk(null, 1)
  round(p, 0, true, true)
  round(p, 1, false, true)
  p.revert('a')
  t.equal(p.active, 'a')
  const [a, b] = p.health()
  t.match(a, { name: 'a', healthy: false, consecutiveFailures: 1 })
  t.match(b, { name: 'b', healthy: true, healthySince: 0 })
  p.sample('zzz', true, 0) // unknown server: ignored
  t.equal(p.health().length, 2)
})
