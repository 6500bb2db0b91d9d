import t from 'tap'
import { NeighbourCache, neighbourLines } from '../src/neighbours.js'

t.test(
  'cache: bounded, keeps a known MAC, skips unresolved link-local',
  async t => {
    const c = new NeighbourCache(3)
    c.remember({ address: '2001:db8::1', lladdr: 'aa' })
    c.remember({ address: '2001:db8::1' })
    c.remember({ address: 'fe80::1' })
    c.remember({ address: '10.0.0.1', lladdr: 'bb' })
    c.remember({ address: 'fe80::2', lladdr: 'cc' })
    t.same(c.all(), [
      { address: '2001:db8::1', lladdr: 'aa' },
      { address: '10.0.0.1', lladdr: 'bb' },
      { address: 'fe80::2', lladdr: 'cc' },
    ])
    c.remember({ address: '10.0.0.9', lladdr: 'dd' })
    t.same(c.ipv6(), ['fe80::2'], 'oldest dropped')
  },
)

t.test(
  'neigh replace lines for resolved entries of enabled families',
  async t => {
    const ns = [
      { address: '10.0.0.1', lladdr: 'bb' },
      { address: '2001:db8::1', lladdr: 'aa' },
      { address: '2001:db8::2' },
    ]
    t.same(neighbourLines(ns, 'eth1', { ipv4: true, ipv6: true }), [
      'neigh replace 10.0.0.1 lladdr bb dev eth1 nud reachable',
      'neigh replace 2001:db8::1 lladdr aa dev eth1 nud reachable',
    ])
    t.same(neighbourLines(ns, 'eth1', { ipv4: false, ipv6: true }).length, 1)
  },
)
