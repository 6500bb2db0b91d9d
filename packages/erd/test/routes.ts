import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  ERD_PROTO,
  copyOf,
  describeRoute,
  formatOp,
  parseRoutes,
  planRoutes,
  primaryRoutes,
  restorePrimary,
  routesFromCopies,
  withdrawPrimary,
  type Route,
} from '../src/routes.js'

const fixture = (f: string) =>
  readFileSync(new URL(`fixtures/${f}`, import.meta.url), 'utf8')
const v4 = parseRoutes(fixture('routes4.json'), 4)
const v6 = parseRoutes(fixture('routes6.json'), 6)
const all = [...v4.routes, ...v6.routes]
const base = { primary: 'eth0', secondary: 'eth1', offset: 100 }
const lines = (ops: ReturnType<typeof planRoutes>) => ops.map(formatOp)

t.test('parses ip -j route; skips what cannot be copied', async t => {
  t.same(v4.skipped, ['blackhole 192.0.2.0/24', 'multipath 198.51.100.0/24'])
  t.same(v4.routes[0], {
    family: 4,
    dst: '0.0.0.0/0',
    dev: 'eth0',
    metric: 0,
    gateway: '10.77.0.1',
  })
  t.equal(
    v4.routes.at(-1)?.dst,
    '10.5.5.5/32',
    'host routes get a prefix length',
  )
  t.equal(v6.routes.find(r => r.gateway)?.dst, '::/0')
  t.same(parseRoutes('', 4).routes, [])
  t.throws(() => parseRoutes('{}', 4), TypeError)
  t.same(parseRoutes('[null, {"dst": 1}]', 4).routes, [])
})

t.test('primary routes: link-local and erd copies excluded', async t => {
  const p = primaryRoutes(all, 'eth0').map(describeRoute)
  t.same(p, [
    '0.0.0.0/0 via 10.77.0.1 dev eth0 metric 0',
    '10.77.0.0/24 dev eth0 metric 0',
    '10.5.5.5/32 via 10.77.0.9 dev eth0 metric 0',
    '2001:db8:77::/64 dev eth0 metric 256',
    '::/0 via 2001:db8:77::1 dev eth0 metric 1024',
  ])
})

t.test('same-IP start: competing secondary routes go, copies come', async t => {
  const saved = primaryRoutes(all, 'eth0')
  const ops = planRoutes({ ...base, current: all, saved, active: 'primary' })
  t.same(lines(ops), [
    'route del 10.77.0.0/24 dev eth1 metric 0',
    'route del 2001:db8:77::/64 dev eth1 metric 256',
    `route replace 0.0.0.0/0 via 10.77.0.1 dev eth1 proto ${ERD_PROTO} metric 100`,
    `route replace 10.77.0.0/24 dev eth1 proto ${ERD_PROTO} scope link src 10.77.0.2 metric 100`,
    `route replace 10.5.5.5/32 via 10.77.0.9 dev eth1 proto ${ERD_PROTO} metric 100`,
    `route replace 2001:db8:77::/64 dev eth1 proto ${ERD_PROTO} pref medium metric 356`,
    `route replace ::/0 via 2001:db8:77::1 dev eth1 proto ${ERD_PROTO} pref medium metric 1124`,
  ])
  t.notOk(
    ops.some(o => o.route.dst === '10.99.0.0/16'),
    'unrelated secondary routes stay',
  )
})

t.test('the plan converges: applied, it plans nothing', async t => {
  const saved = primaryRoutes(all, 'eth0')
  const apply = (cur: Route[], ops: ReturnType<typeof planRoutes>) => {
    let next = [...cur]
    for (const o of ops) {
      next = next.filter(
        r =>
          !(
            r.family === o.route.family &&
            r.dst === o.route.dst &&
            r.dev === o.route.dev &&
            r.metric === o.route.metric
          ),
      )
      if (o.op === 'replace') next.push(o.route)
    }
    return next
  }
  for (const active of ['primary', 'secondary', null] as const) {
    const after = apply(
      all,
      planRoutes({ ...base, current: all, saved, active }),
    )
    t.same(
      planRoutes({ ...base, current: after, saved, active }),
      [],
      `active ${active}`,
    )
  }
})

t.test(
  'secondary active: the primary routes are removed, copies kept',
  async t => {
    const saved = primaryRoutes(all, 'eth0')
    const copies = saved.map(r => copyOf(r, 'eth1', 100))
    const current = [...saved, ...copies]
    const ops = planRoutes({ ...base, current, saved, active: 'secondary' })
    t.same(
      ops.map(o => `${o.op} ${o.why}`),
      saved.map(() => 'del primary'),
    )
    t.same(
      planRoutes({ ...base, current: copies, saved, active: 'primary' }).map(
        o => o.route.dev,
      ),
      saved.map(() => 'eth0'),
    )
    t.same(planRoutes({ ...base, current: copies, saved, active: null }), [])
  },
)

t.test(
  'different-IP setup: the secondary prefix route is a conflict too',
  async t => {
    const current: Route[] = [
      {
        family: 4,
        dst: '10.1.0.0/24',
        dev: 'eth0',
        metric: 0,
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '10.1.0.2',
      },
      {
        family: 4,
        dst: '10.1.0.0/24',
        dev: 'eth1',
        metric: 0,
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '10.1.0.3',
      },
    ]
    const saved = primaryRoutes(current, 'eth0')
    t.same(lines(planRoutes({ ...base, current, saved, active: 'primary' })), [
      'route del 10.1.0.0/24 dev eth1 metric 0',
      `route replace 10.1.0.0/24 dev eth1 proto ${ERD_PROTO} scope link src 10.1.0.2 metric 100`,
    ])
  },
)

t.test('fast paths and rebuild after a restart in failover', async t => {
  const saved = primaryRoutes(all, 'eth0')
  t.same(
    withdrawPrimary(saved).map(o => o.op),
    saved.map(() => 'del'),
  )
  t.same(
    restorePrimary(saved).map(o => o.op),
    saved.map(() => 'replace'),
  )
  const copies = saved.map(r => copyOf(r, 'eth1', 100))
  const rebuilt = routesFromCopies([...copies, ...all], 'eth0', 'eth1', 100)
  t.same(rebuilt.map(describeRoute), saved.map(describeRoute))
  t.ok(rebuilt.every(r => r.protocol === 'boot'))
  t.equal(
    formatOp({ op: 'del', route: saved[0]!, why: 'primary' }),
    'route del 0.0.0.0/0 via 10.77.0.1 dev eth0 metric 0',
  )
})
