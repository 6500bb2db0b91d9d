import t from 'tap'
import { applyResult, INITIAL, type HealthState } from '../src/health.js'

const ok = { ok: true, reason: 'ok' }
const bad = { ok: false, reason: 'refused', code: 'LD_ERR_CHECK_CONNECT' }

t.test(
  'failurecount consecutive failures before down; one success brings it up',
  async t => {
    let s: HealthState = INITIAL
    const changes: string[] = []
    const feed = (r: typeof ok, now: number, force = false) => {
      const step = applyResult(s, r, 3, now, force)
      s = step.state
      changes.push(step.changed ?? '-')
    }
    feed(ok, 1)
    feed(bad, 2)
    feed(bad, 3)
    t.equal(s.status, 'up', 'two failures of three: still up')
    feed(ok, 4)
    t.equal(s.failures, 0, 'a success resets the count')
    feed(bad, 5)
    feed(bad, 6)
    feed(bad, 7)
    t.equal(s.status, 'down')
    t.equal(s.since, 7)
    feed(bad, 8)
    t.equal(s.since, 7, 'staying down is no change')
    feed(ok, 9)
    t.same(changes, ['up', '-', '-', '-', '-', '-', 'down', '-', 'up'])
    t.equal(s.since, 9)
    feed(bad, 10, true)
    t.equal(s.status, 'down', 'forced (maintenance) goes down at once')
    t.same(s.last, bad)
    t.equal(s.lastCheckAt, 10)
  },
)

t.test(
  'from unknown, failures reach down without passing through up',
  async t => {
    const a = applyResult(INITIAL, bad, 1, 0)
    t.equal(a.changed, 'down')
    const b = applyResult(INITIAL, bad, 2, 0)
    t.equal(b.state.status, 'unknown')
    t.equal(b.changed, undefined)
  },
)
