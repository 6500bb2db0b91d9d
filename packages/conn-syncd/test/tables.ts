import t from 'tap'
import { SequenceTracker } from '../src/sequence.js'
import { PeerTable } from '../src/peer-table.js'
import { LocalFlows } from '../src/local-flows.js'
import { flowKey, type Flow } from '../src/flow.js'

const flow = (sport: number, natDst = '10.0.0.21'): Flow => ({
  family: 4,
  proto: 6,
  src: '10.0.0.1',
  dst: '10.0.0.100',
  sport,
  dport: 80,
  natDst,
  natDport: 8080,
  natSrc: '10.0.0.100',
  natSport: sport,
  timeout: 10,
})

t.test('sequence: loss counted, restarts and replays told apart', async t => {
  const s = new SequenceTracker()
  t.same(s.observe('a', 1n, 1), { kind: 'first' })
  t.same(s.observe('a', 1n, 2), { kind: 'next', lost: 0 })
  t.same(s.observe('a', 1n, 5), { kind: 'next', lost: 2 })
  t.same(s.observe('a', 1n, 5), { kind: 'old' })
  t.same(s.observe('a', 1n, 3), { kind: 'old' })
  t.same(s.observe('a', 2n, 1), { kind: 'restart' })
  t.same(s.observe('a', 1n, 9), { kind: 'old' })
  // u64 epochs above 2^53 stay distinct (a number would round them together).
  const big = 2n ** 60n
  t.same(s.observe('b', big, 1), { kind: 'first' })
  t.same(s.observe('b', big + 1n, 1), { kind: 'restart' })
})

t.test('sequence: per-sender state is bounded', async t => {
  const s = new SequenceTracker(2)
  t.same(s.observe('a', 1n, 1), { kind: 'first' })
  t.same(s.observe('b', 1n, 1), { kind: 'first' })
  t.same(s.observe('c', 1n, 1), { kind: 'full' })
  t.same(s.observe('a', 1n, 2), { kind: 'next', lost: 0 })
})

t.test(
  'peer table: upsert tells mapping changes, expiry by timeout',
  async t => {
    const p = new PeerTable()
    t.equal(p.upsert('m1', flow(1), 0)?.changed, true)
    const again = p.upsert('m1', flow(1), 1000)
    t.equal(again?.changed, false)
    t.equal(p.upsert('m1', flow(1, '10.0.0.22'), 2000)?.changed, true)
    p.upsert('m2', flow(2), 5000)
    t.same(
      [...p.countByPeer()],
      [
        ['m1', 1],
        ['m2', 1],
      ],
    )
    t.same(
      p.expire(12_500).map(h => h.flow.sport),
      [1],
    )
    t.equal(p.size, 1)
    t.equal(p.remove(flowKey(flow(2)))?.peer, 'm2')
  },
)

t.test(
  'peer table: expiry walks only when an entry may be due, and misses none',
  async t => {
    const p = new PeerTable()
    const f = (sport: number, timeout: number) => ({
      ...flow(sport),
      timeout,
    })
    p.upsert('m1', f(1, 60), 0) // ends at 60 s
    t.same(p.expire(30_000), [], 'nothing due')
    p.upsert('m1', f(2, 10), 30_000) // a shorter one, later: ends at 40 s
    t.same(
      p.expire(40_001).map(h => h.flow.sport),
      [2],
      'the shorter one goes',
    )
    p.upsert('m1', f(1, 60), 50_000) // refreshed: now ends at 110 s
    t.same(p.expire(60_001), [], 'a refresh moves the end')
    t.same(
      p.expire(110_001).map(h => h.flow.sport),
      [1],
    )
    t.equal(p.size, 0)
  },
)

t.test(
  'local flows: sent after the threshold, removal only for sent ones',
  async t => {
    const l = new LocalFlows(1000)
    l.seen(flow(1), 0)
    l.seen(flow(2), 500)
    t.same(l.due(999), [])
    t.same(
      l.due(1000).map(f => f.sport),
      [1],
    )
    t.same(
      l.due(1500).map(f => f.sport),
      [2],
    )
    t.same(l.due(5000), [])
    l.seen(flow(3), 5000)
    t.equal(
      l.ended(flowKey(flow(3))),
      undefined,
      'short-lived flow: nothing to remove',
    )
    t.equal(l.ended(flowKey(flow(1)))?.sport, 1)
    // A dump replaces the set and returns what is old enough.
    t.same(
      l.reconcile([flow(2), flow(9)], 6000).map(f => f.sport),
      [2],
    )
    t.equal(l.size, 2)
  },
)
