import t from 'tap'
import { compareRa } from '../src/consistency.js'
import type { RaContent } from '../src/ra.js'

const base: RaContent = {
  curHopLimit: 64,
  managed: false,
  other: true,
  preference: 'medium',
  routerLifetime: 1800,
  reachableTime: 30000,
  retransTimer: 1000,
  prefixes: [
    {
      prefix: '2001:db8::',
      length: 64,
      onLink: true,
      autonomous: true,
      routerAddr: false,
      valid: 86400,
      preferred: 14400,
    },
  ],
  routes: [],
  rdnss: [],
  dnssl: [],
  mtu: 1500,
}

t.test('consistent RAs, and unspecified values never conflict', async t => {
  t.same(compareRa(base, base), [])
  t.same(
    compareRa(base, {
      ...base,
      curHopLimit: 0,
      reachableTime: 0,
      retransTimer: 0,
      routerLifetime: 0,
      preference: 'high',
    }),
    [],
  )
  const { mtu: _m, ...noMtu } = base
  t.same(compareRa(base, noMtu), [], 'no MTU option')
  t.same(
    compareRa(base, {
      ...base,
      prefixes: [{ ...base.prefixes[0]!, prefix: '2001:db8:1::' }],
    }),
    [],
    'other prefixes are not compared',
  )
})

t.test('each contradicting field is reported', async t => {
  const theirs: RaContent = {
    ...base,
    curHopLimit: 32,
    managed: true,
    other: false,
    reachableTime: 1,
    retransTimer: 2,
    mtu: 1280,
    prefixes: [{ ...base.prefixes[0]!, valid: 100, preferred: 50 }],
  }
  t.same(
    compareRa(base, theirs).map(d => d.field),
    [
      'curHopLimit',
      'managed',
      'other',
      'reachableTime',
      'retransTimer',
      'mtu',
      'prefix 2001:db8::/64 valid',
      'prefix 2001:db8::/64 preferred',
    ],
  )
  t.same(compareRa(base, theirs)[5], { field: 'mtu', ours: 1500, theirs: 1280 })
})
