// Issue 19.4: the proxy's affinity table had no cap (20,000 IPv6 sources,
// 20,000 entries, +61 MB) and no granularity. Pure: Balancer and the key.
import t from 'tap'
import { Balancer } from '../src/balancer.js'
import { affinityKey, canonicalIp } from '../src/affinity-key.js'

const backends = [
  { id: 'a', host: '10.0.0.11', port: 80, weight: 1 },
  { id: 'b', host: '10.0.0.12', port: 80, weight: 1 },
]

t.test('affinity keys: IPv4 netmask, IPv6 prefix, mapped addresses', t => {
  const g = { v4Prefix: 24, v6Prefix: 64 }
  t.equal(affinityKey('192.0.2.77', g), '192.0.2.0')
  t.equal(
    affinityKey('::ffff:192.0.2.77', g),
    '192.0.2.0',
    'v4-mapped counts as IPv4',
  )
  t.equal(affinityKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', g), '2001:db8:1:2::')
  t.equal(
    affinityKey('2001:db8::1', { v4Prefix: 32, v6Prefix: 128 }),
    '2001:db8::1',
    '/128: as is',
  )
  t.equal(affinityKey('10.1.2.3', { v4Prefix: 0, v6Prefix: 0 }), '0.0.0.0')
  t.equal(affinityKey('::1.2.3.4', { v4Prefix: 32, v6Prefix: 96 }), '::')
  t.equal(canonicalIp('2001:DB8:0:0::7'), '2001:db8::7')
  t.end()
})

t.test('20,000 IPv6 sources in one /64 share one entry', t => {
  let now = 1000
  const b = new Balancer({
    scheduler: 'rr',
    persistentMs: 60_000,
    now: () => now,
    granularity: { v4Prefix: 32, v6Prefix: 64 },
  })
  b.update(backends)
  for (let i = 0; i < 20_000; i++) {
    const s = b.acquire(`2001:db8:0:1::${i.toString(16)}`)
    if (s) b.release(s, 0, 0)
    now++
  }
  t.equal(b.persistSize, 1)
  t.equal(b.persistEvictions, 0)
  t.end()
})

t.test(
  '20,000 distinct sources: the table stays at its cap, LRU goes first, evictions counted',
  t => {
    let now = 1000
    const b = new Balancer({
      scheduler: 'rr',
      persistentMs: 3_600_000,
      now: () => now,
      persistMax: 1000,
      granularity: { v4Prefix: 32, v6Prefix: 64 },
    })
    b.update(backends)
    const first = b.acquire('2001:db8:ffff:1::1')
    for (let i = 0; i < 20_000; i++) {
      const s = b.acquire(
        `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1`,
      )
      if (s) b.release(s, 0, 0)
      // A client that keeps coming back stays recently used.
      if (i % 100 === 0) {
        const again = b.acquire('2001:db8:ffff:1::2')
        t.equal(again?.id, first?.id)
        if (again) b.release(again, 0, 0)
      }
      now++
    }
    t.equal(b.persistSize, 1000, 'capped')
    t.equal(
      b.persistEvictions,
      20_001 - 1000,
      'every entry beyond the cap counted',
    )
    t.match(
      b.persistList().find(e => e.client === '2001:db8:ffff:1::'),
      { node: first?.id },
      'the returning client kept its node',
    )
    t.end()
  },
)
