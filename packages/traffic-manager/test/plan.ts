import t from 'tap'
import { planBackends, failStatic } from '../src/plan.js'
import { weightFromLoad } from '../src/weights.js'
import type { NodeEntry } from '../src/live-table.js'
import type { ServiceConfig } from '../src/config.js'

const svc = (nodes: string[]): ServiceConfig => ({
  name: '10.0.0.100:80',
  address: '10.0.0.100',
  port: 80,
  family: 4,
  scheduler: 'wrr',
  dataplane: 'proxy',
  nodes: nodes.map(address => ({ address, port: 8080 })),
  persistentMs: 0,
  persistentMax: 16_384,
  persistentNetmask: 32,
  persistentPrefix6: 64,
  autojoin: [],
  connectTimeoutMs: 1000,
  idleTimeoutMs: 1000,
  failStatic: true,
  options: {},
  at: { file: 'x', line: 1 },
})

const entry = (
  address: string,
  status: NodeEntry['status'],
  load: number,
  role: NodeEntry['role'] = 'active',
): NodeEntry => ({
  address,
  role,
  label: address,
  status,
  load,
  reports: 1,
})

const lookupOf =
  (...e: NodeEntry[]) =>
  (a: string) =>
    e.find(x => x.address === a)

t.test('weights are relative to the largest load index in the service', t => {
  t.equal(weightFromLoad(6717, 6717), 256)
  t.equal(weightFromLoad(3358, 6717), 128)
  t.equal(weightFromLoad(1, 100000), 1, 'never 0 while load > 0')
  t.equal(weightFromLoad(0, 100), 1, 'load 0 (busy) keeps the floor weight')
  t.equal(weightFromLoad(0, 0), 1, 'all busy: equal floor weights')
  t.end()
})

t.test(
  'up nodes get derived weights; drain is in with weight 0; down, timeout and unknown are out',
  t => {
    const plan = planBackends(
      svc(['a', 'b', 'c', 'd', 'e', 'f']),
      lookupOf(
        entry('a', 'up', 200),
        entry('b', 'up', 100),
        entry('c', 'drain', 300),
        entry('d', 'down', 300),
        entry('e', 'timeout', 300),
        entry('f', 'unknown', 0),
      ),
      undefined,
    )
    t.same(
      plan.map(p => [p.id, p.weight]),
      [
        ['a', 256],
        ['b', 128],
        ['c', 0],
      ],
    )
    t.end()
  },
)

t.test(
  'load 0 is busy, not drained; overrides replace derived weights but do not revive drained nodes',
  t => {
    const lookup = lookupOf(
      entry('a', 'up', 200),
      entry('b', 'up', 0),
      entry('c', 'drain', 50),
    )
    const plan = planBackends(
      svc(['a', 'b', 'c']),
      lookup,
      new Map([
        ['a', 7],
        ['c', 99],
      ]),
    )
    t.same(
      plan.map(p => [p.id, p.weight, p.weightSource]),
      [
        ['a', 7, 'manual'],
        ['b', 1, 'auto'],
        ['c', 0, 'auto'],
      ],
    )
    t.end()
  },
)

// Issue 18.2: every node at load index 0 (a cluster at capacity) made every
// node ineligible and the proxy reset every connection.
t.test(
  'every node at load 0 still shares the traffic equally; drain and manual 0 stay drains',
  t => {
    const s = svc(['a', 'b', 'c'])
    const busy = lookupOf(
      entry('a', 'up', 0),
      entry('b', 'up', 0),
      entry('c', 'up', 0),
    )
    t.same(
      planBackends(s, busy, undefined).map(p => [p.id, p.weight]),
      [
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ],
    )
    const mixed = lookupOf(
      entry('a', 'up', 0),
      entry('b', 'drain', 0),
      entry('c', 'up', 0),
    )
    t.same(
      planBackends(s, mixed, new Map([['c', 0]])).map(p => [p.id, p.weight]),
      [
        ['a', 1],
        ['b', 0],
        ['c', 0],
      ],
    )
    t.end()
  },
)

t.test(
  'N+M: a busy active (load 0) still counts as serving; a manual 0 does not',
  t => {
    const s = svc(['a1', 's1'])
    const busy = lookupOf(
      entry('a1', 'up', 0),
      entry('s1', 'up', 10, 'standby'),
    )
    t.same(
      planBackends(s, busy, undefined).map(p => p.id),
      ['a1'],
    )
    t.same(
      planBackends(s, busy, new Map([['a1', 0]])).map(p => p.id),
      ['a1', 's1'],
    )
    t.end()
  },
)

t.test('N+M: standbys join only while fewer actives serve', t => {
  const s = svc(['a1', 'a2', 's1', 's2'])
  const full = lookupOf(
    entry('a1', 'up', 10),
    entry('a2', 'up', 10),
    entry('s1', 'up', 10, 'standby'),
    entry('s2', 'up', 10, 'standby'),
  )
  t.same(
    planBackends(s, full, undefined).map(p => p.id),
    ['a1', 'a2'],
  )
  const oneDown = lookupOf(
    entry('a1', 'up', 10),
    entry('a2', 'timeout', 10),
    entry('s1', 'up', 10, 'standby'),
    entry('s2', 'up', 10, 'standby'),
  )
  t.same(
    planBackends(s, oneDown, undefined).map(p => p.id),
    ['a1', 's1'],
  )
  const bothDown = lookupOf(
    entry('a1', 'drain', 10),
    entry('a2', 'down', 10),
    entry('s1', 'timeout', 10, 'standby'),
    entry('s2', 'up', 10, 'standby'),
  )
  t.same(
    planBackends(s, bothDown, undefined).map(p => [p.id, p.weight]),
    [
      ['a1', 0],
      ['s2', 256],
    ],
  )
  t.end()
})

// A node silent past timeout, with the state its last report gave.
const silent = (
  address: string,
  reported: NodeEntry['reported'],
  role: NodeEntry['role'] = 'active',
): NodeEntry => ({ ...entry(address, 'timeout', 300, role), reported })

t.test(
  'fail-static: when every serving node went silent, they stay in at equal weight',
  t => {
    const plan = planBackends(
      svc(['a', 'b', 'c']),
      lookupOf(silent('a', 'up'), silent('b', 'up'), silent('c', 'up')),
      undefined,
    )
    t.same(
      plan.map(p => [p.id, p.weight, p.kept]),
      [
        ['a', 1, true],
        ['b', 1, true],
        ['c', 1, true],
      ],
    )
    t.ok(failStatic(plan))
    t.end()
  },
)

t.test('fail-static does not start while one node serves', t => {
  const plan = planBackends(
    svc(['a', 'b', 'c']),
    lookupOf(entry('a', 'up', 10), silent('b', 'up'), silent('c', 'up')),
    undefined,
  )
  t.same(
    plan.map(p => p.id),
    ['a'],
  )
  t.notOk(failStatic(plan))
  t.end()
})

t.test(
  'fail-static never keeps a node that asked to leave: last report down or drain, or a manual weight 0',
  t => {
    const lookup = lookupOf(
      silent('a', 'down'),
      silent('b', 'drain'),
      silent('c', 'up'),
      silent('d', 'up'),
      entry('e', 'unknown', 0),
      entry('f', 'drain', 10),
    )
    const plan = planBackends(
      svc(['a', 'b', 'c', 'd', 'e', 'f']),
      lookup,
      new Map([['d', 0]]),
    )
    t.same(
      plan.map(p => [p.id, p.weight, p.kept ?? false]),
      [
        ['f', 0, false],
        ['c', 1, true],
      ],
      'the drained node stays in at 0; only c, silent after up, is kept',
    )
    t.notOk(
      failStatic(
        planBackends(
          svc(['a', 'b']),
          lookupOf(silent('a', 'down'), silent('b', 'drain')),
          undefined,
        ),
      ),
      'nodes that all said down or drain leave the service empty',
    )
    t.end()
  },
)

t.test('fail-static keeps silent standbys too: any of them may serve', t => {
  const plan = planBackends(
    svc(['a', 's']),
    lookupOf(silent('a', 'up'), silent('s', 'up', 'standby')),
    undefined,
  )
  t.same(
    plan.map(p => [p.id, p.role, p.kept]),
    [
      ['a', 'active', true],
      ['s', 'standby', true],
    ],
  )
  t.end()
})

t.test('fail-static off: the service empties when every node is silent', t => {
  const plan = planBackends(
    { ...svc(['a', 'b']), failStatic: false },
    lookupOf(silent('a', 'up'), silent('b', 'up')),
    undefined,
  )
  t.same(plan, [])
  t.end()
})
