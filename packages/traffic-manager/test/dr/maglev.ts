// Maglev table properties the direct-routing plane relies on.
import t from 'tap'
import {
  buildMaglevTable,
  isPrime,
  maglevDisruption,
  maglevShares,
  maglevSize,
  nextPrime,
  type MaglevNode,
} from '../../src/maglev.js'

const nodes = (n: number, w = 1): MaglevNode[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `10.9.0.${21 + i}:8080`,
    weight: w,
  }))

t.test(
  'primes and the default size: prime, at least 100 x nodes, fixed while nodes come and go',
  async t => {
    t.ok(isPrime(2003))
    t.notOk(isPrime(2001))
    t.equal(nextPrime(2000), 2003)
    t.equal(maglevSize(3), 2003)
    t.equal(maglevSize(16), 2003)
    t.equal(maglevSize(21), 2111)
    t.ok(maglevSize(40) >= 4000 && isPrime(maglevSize(40)))
    t.equal(maglevSize(3, 307), 307)
    t.throws(() => buildMaglevTable(nodes(3), 300), /prime/)
  },
)

t.test(
  'determinism: same nodes in any order, built separately, give the same table',
  async t => {
    const a = buildMaglevTable(nodes(5), 2003)
    const b = buildMaglevTable([...nodes(5)].reverse(), 2003)
    t.same([...a.entries], [...b.entries])
    t.same(
      a.nodes.map(n => n.id),
      b.nodes.map(n => n.id),
    )
    t.equal(maglevDisruption(a, b), 0)
    // Pinned figures: a change of the algorithm would split a pair of masters
    // running different versions during an upgrade, so it must show here.
    t.same(
      [...buildMaglevTable(nodes(3), 307).entries.slice(0, 16)],
      [0, 2, 0, 2, 0, 2, 1, 1, 2, 2, 0, 2, 0, 2, 1, 1],
    )
    t.equal(a.entries.length, 2003)
    t.ok(
      a.entries.every(i => i < 5),
      'every bucket is filled',
    )
  },
)

t.test(
  'balance: equal weights share the buckets within 1 percent of M',
  async t => {
    for (const n of [2, 3, 5, 16]) {
      const tab = buildMaglevTable(nodes(n), maglevSize(n))
      const shares = [...maglevShares(tab).values()]
      const ideal = tab.size / n
      for (const s of shares)
        t.ok(
          Math.abs(s - ideal) <= tab.size * 0.01,
          `${n} nodes: ${s} vs ${ideal.toFixed(1)}`,
        )
    }
  },
)

t.test('weights: shares follow weights; weight 0 takes nothing', async t => {
  const tab = buildMaglevTable(
    [
      { id: 'a:80', weight: 3 },
      { id: 'b:80', weight: 1 },
      { id: 'c:80', weight: 0 },
    ],
    2003,
  )
  const s = maglevShares(tab)
  t.equal(s.has('c:80'), false)
  t.ok(
    Math.abs((s.get('a:80') ?? 0) / 2003 - 0.75) < 0.01,
    `a has ${s.get('a:80')}`,
  )
  t.equal(buildMaglevTable([{ id: 'x', weight: 0 }], 7).entries.length, 0)
})

t.test(
  'disruption: a node leaving moves only its own buckets; joining moves about 1/N',
  async t => {
    const before = buildMaglevTable(nodes(5), 2003)
    const left = buildMaglevTable(
      nodes(5).filter(n => n.id !== '10.9.0.23:8080'),
      2003,
    )
    // Maglev's guarantee is "mostly": a few survivor buckets may move.
    let survivorsMoved = 0
    for (let i = 0; i < 2003; i++) {
      const was = before.nodes[before.entries[i] as number]?.id
      const now = left.nodes[left.entries[i] as number]?.id
      if (was !== '10.9.0.23:8080' && was !== now) survivorsMoved++
    }
    t.ok(
      survivorsMoved / 2003 < 0.03,
      `survivors' buckets moved: ${survivorsMoved}`,
    )
    const removed = maglevDisruption(before, left)
    t.ok(
      removed > 0.17 && removed < 0.24,
      `leave disruption ${removed.toFixed(3)} ~ 1/5`,
    )
    const joined = buildMaglevTable(nodes(6), 2003)
    const d = maglevDisruption(before, joined)
    t.ok(d > 0.13 && d < 0.21, `join disruption ${d.toFixed(3)} ~ 1/6`)
    const reweighted = buildMaglevTable(
      nodes(5).map((n, i) => (i === 0 ? { ...n, weight: 2 } : n)),
      2003,
    )
    const w = maglevDisruption(before, reweighted)
    t.ok(w > 0.05 && w < 0.3, `weight change disruption ${w.toFixed(3)}`)
  },
)
