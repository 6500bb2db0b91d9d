import t from 'tap'
import { Balancer, type PersistEntry } from '../src/balancer.js'

const backends = [
  { id: 'a', host: '10.0.0.1', port: 80, weight: 256 },
  { id: 'b', host: '10.0.0.2', port: 80, weight: 128 },
]

t.test(
  'acquire/release count connections; counters survive a node leaving',
  t => {
    const b = new Balancer({ scheduler: 'wrr', persistentMs: 0 })
    b.update(backends)
    const s1 = b.acquire('1.1.1.1')
    const s2 = b.acquire('1.1.1.1')
    t.equal(b.activeTotal, 2)
    b.update([backends[1]!])
    if (s1) b.release(s1, 10, 20)
    if (s2) b.abandon(s2)
    t.same(b.counters().get('a'), {
      active: 0,
      total: 1,
      bytesIn: 10,
      bytesOut: 20,
    })
    t.equal(b.acquire('x')?.id, 'b', 'only b is left')
    t.end()
  },
)

t.test('distribution follows capacity with wrr', t => {
  const b = new Balancer({ scheduler: 'wrr', persistentMs: 0 })
  b.update(backends)
  const n: Record<string, number> = {}
  for (let i = 0; i < 300; i++) {
    const s = b.acquire('c')
    if (s) {
      n[s.id] = (n[s.id] ?? 0) + 1
      b.release(s, 0, 0)
    }
  }
  t.same(n, { a: 200, b: 100 })
  t.end()
})

t.test('persistence keeps a client on its node until the entry expires', t => {
  let clock = 0
  const synced: PersistEntry[] = []
  const b = new Balancer({
    scheduler: 'rr',
    persistentMs: 10_000,
    now: () => clock,
    onPersist: e => synced.push(e),
  })
  b.update(backends)
  const first = b.acquire('9.9.9.9')
  for (let i = 0; i < 5; i++) t.equal(b.acquire('9.9.9.9')?.id, first?.id)
  t.equal(synced.length, 1, 'peers told once, not per connection')
  clock = 6000
  b.acquire('9.9.9.9')
  t.equal(synced.length, 2, 'refreshed when half the lifetime is gone')
  clock = 6000 + 10_001
  t.same(b.persistList(), [], 'expired')
  b.setPersist('8.8.8.8', 'b', clock + 5000)
  t.equal(b.acquire('8.8.8.8')?.id, 'b', 'preloaded entry honoured')
  b.update([
    { ...backends[0]!, weight: 256 },
    { ...backends[1]!, weight: 0 },
  ])
  t.equal(b.acquire('8.8.8.8')?.id, 'a', 'quiesced node: affinity yields')
  t.end()
})
