// The state machine driven by hand: every call carries `now`, nothing sleeps.
import t from 'tap'
import { Membership, type MembershipOptions } from '../src/membership.js'
import type { Heartbeat } from '../src/packet.js'

const base: MembershipOptions = {
  self: 'a',
  peer: 'b',
  groups: [{ name: 'a', home: 'a' }],
  paths: ['ucast eth1', 'bcast eth0'],
  deadtime: 100,
  warntime: 60,
  initdead: 1000,
  autoFailback: false,
  pingTotal: 0,
  now: 0,
}

let seq = 0
const hb = (f: Partial<Heartbeat> = {}): Heartbeat => ({
  from: 'b',
  gen: 1,
  seq: ++seq,
  via: 'u',
  standby: false,
  takeover: false,
  pingOk: 0,
  pingTotal: 0,
  held: [],
  failed: [],
  ...f,
})

/** Feeds one heartbeat round on every path at `now`. */
function round(
  m: Membership,
  now: number,
  f: Partial<Heartbeat> = {},
  paths = base.paths,
): void {
  const h = hb(f)
  for (const p of paths) m.heartbeat(p, h, now)
}

/** Completes pending agent operations successfully. */
function settle(m: Membership, now: number, ok = true): string[] {
  const done: string[] = []
  for (const a of m.takeActions()) {
    done.push(`${a.type} ${a.group}`)
    if (a.type !== 'announce') m.resourceDone(a.group, a.type, ok, now)
  }
  return done
}

/** A partition: a and b each came up alone at initdead and took group a. */
function partitioned(opts: Partial<MembershipOptions> = {}): {
  a: Membership
  b: Membership
} {
  const a = new Membership({ ...base, ...opts })
  const b = new Membership({ ...base, self: 'b', peer: 'a', ...opts })
  for (const m of [a, b]) {
    m.tick(1000)
    settle(m, 1000)
  }
  return { a, b }
}

t.test('alone: waits initdead, then takes its group', async t => {
  const m = new Membership(base)
  m.tick(500)
  t.same(m.takeActions(), [], 'nothing during initdead')
  t.equal(m.nextWake(500), 1000)
  m.tick(1000)
  t.same(settle(m, 1000), ['start a'])
  t.same(m.view(1000).active, 'a')
})

t.test(
  'active/standby: the standby takes over after deadtime, not before',
  async t => {
    const m = new Membership({ ...base, self: 'b', peer: 'a' })
    const peer = (now: number) =>
      round(m, now, { from: 'a', held: [{ group: 'a', heldMs: 5000 }] })
    peer(10)
    t.same(m.takeActions(), [], 'the home node holds it')
    peer(40)
    m.tick(100)
    t.notOk(m.takeEvents().some(e => e.type === 'late'))
    m.tick(101)
    t.ok(
      m.takeEvents().some(e => e.type === 'late'),
      'late heartbeat warning after warntime',
    )
    m.tick(140)
    t.same(m.takeActions(), [])
    t.equal(m.nextWake(140), 141)
    m.tick(141)
    const ev = m.takeEvents()
    t.ok(
      ev.some(e => e.type === 'node' && e.node === 'a' && !e.alive),
      'peer declared dead',
    )
    t.same(settle(m, 150), ['start a'], 'standby starts the group')
    t.equal(m.view(150).active, 'b')
  },
)

t.test('one path silent: a warning, no failover', async t => {
  const m = new Membership({ ...base, self: 'b', peer: 'a' })
  for (let now = 0; now <= 400; now += 30) {
    round(
      m,
      now,
      { from: 'a', held: [{ group: 'a', heldMs: now }] },
      now < 50 ? base.paths : ['bcast eth0'],
    )
    m.tick(now + 1)
  }
  const ev = m.takeEvents()
  t.ok(ev.some(e => e.type === 'path' && e.path === 'ucast eth1' && !e.up))
  t.notOk(ev.some(e => e.type === 'node' && !e.alive))
  t.same(m.takeActions(), [])
  t.equal(m.view(400).paths.find(p => p.name === 'ucast eth1')?.up, false)
})

t.test('sequence gaps count as loss per path', async t => {
  const m = new Membership(base)
  m.heartbeat('ucast eth1', hb({ seq: 10 }), 0)
  m.heartbeat('ucast eth1', hb({ seq: 13 }), 30)
  t.equal(m.view(30).paths[0]?.lost, 2)
  t.equal(m.view(30).paths[0]?.received, 2)
})

t.test(
  'auto_failback on: the home node gets its group back, without overlap',
  async t => {
    const m = new Membership({
      ...base,
      self: 'b',
      peer: 'a',
      autoFailback: true,
    })
    m.tick(1000)
    t.same(settle(m, 1000), ['start a'], 'alone after initdead')
    round(m, 1100, { from: 'a', gen: 2 })
    t.same(settle(m, 1110), ['stop a'], 'home is back: release first')
    round(m, 1130, { from: 'a', gen: 2, held: [{ group: 'a', heldMs: 0 }] })
    t.same(m.takeActions(), [])
    t.equal(m.view(1130).active, 'a')
  },
)

t.test('auto_failback off: the group stays where it is', async t => {
  const m = new Membership({ ...base, self: 'b', peer: 'a' })
  m.tick(1000)
  settle(m, 1000)
  round(m, 1100, { from: 'a', gen: 2 })
  t.same(m.takeActions(), [], 'b keeps it')
  // And the home node, seeing b hold it, does not start it.
  const home = new Membership(base)
  round(home, 10, { held: [{ group: 'a', heldMs: 900 }] })
  round(home, 40, { held: [{ group: 'a', heldMs: 930 }] })
  home.tick(60)
  t.same(home.takeActions(), [])
})

t.test(
  'split brain heals: exactly one keeps the group and re-announces',
  async t => {
    for (const autoFailback of [true, false]) {
      // a is home and held the group longer; b took it during the partition.
      const { a, b } = partitioned({ autoFailback })
      // Partition heals at 5000: b has held it 4000 ms, a 4000 ms too; give a a head start.
      a.heartbeat(
        'ucast eth1',
        hb({ from: 'b', gen: 9, held: [{ group: 'a', heldMs: 1000 }] }),
        5000,
      )
      b.heartbeat(
        'ucast eth1',
        hb({ from: 'a', gen: 9, held: [{ group: 'a', heldMs: 4000 }] }),
        5000,
      )
      t.same(a.takeActions(), [], `a keeps (auto_failback ${autoFailback})`)
      t.same(settle(b, 5010), ['stop a'], 'b releases')
      a.heartbeat('ucast eth1', hb({ from: 'b', gen: 9 }), 5020)
      t.same(
        a.takeActions().map(x => x.type),
        ['announce'],
        'the winner re-announces',
      )
    }
  },
)

t.test(
  'near-equal hold times: the node names decide, the same on both sides',
  async t => {
    const { a, b } = partitioned()
    a.heartbeat(
      'ucast eth1',
      hb({ from: 'b', gen: 9, held: [{ group: 'a', heldMs: 1990 }] }),
      3000,
    )
    b.heartbeat(
      'ucast eth1',
      hb({ from: 'a', gen: 9, held: [{ group: 'a', heldMs: 2010 }] }),
      3000,
    )
    t.same(a.takeActions(), [])
    t.same(settle(b, 3000), ['stop a'])
  },
)

t.test(
  'ping nodes: the node with less connectivity yields; an isolated node holds nothing',
  async t => {
    const m = new Membership({ ...base, pingTotal: 1 })
    m.tick(1000)
    settle(m, 1000)
    round(m, 1010, { pingOk: 1, pingTotal: 1 })
    m.pingState(0, 1020)
    t.same(
      settle(m, 1020),
      ['stop a'],
      'lost its ping node while the peer has it',
    )
    t.equal(m.advert(1020).pingOk, 0)
    round(m, 1030, {
      pingOk: 1,
      pingTotal: 1,
      held: [{ group: 'a', heldMs: 0 }],
    })
    m.pingState(1, 1040)
    t.same(m.takeActions(), [], 'peer holds it now (auto_failback off)')
    // Alone and cut off: hold nothing.
    const lone = new Membership({ ...base, pingTotal: 2 })
    lone.pingState(0, 10)
    lone.tick(2000)
    t.same(lone.takeActions(), [])
    lone.pingState(1, 2100)
    t.same(settle(lone, 2100), ['start a'])
  },
)

t.test('standby and takeover hand over gracefully', async t => {
  const a = new Membership(base)
  round(a, 10, { held: [] })
  round(a, 50, { held: [] })
  a.tick(71) // warntime after the peer was first heard
  t.same(settle(a, 71), ['start a'])
  a.requestStandby(80)
  t.same(settle(a, 80), ['stop a'], 'standby releases')
  t.equal(a.advert(80).standby, true)
  round(a, 90, { held: [{ group: 'a', heldMs: 0 }] })
  t.same(a.takeActions(), [], 'stays standby')
  a.requestTakeover(100)
  t.equal(a.advert(100).takeover, true, 'asks the peer')
  round(a, 110, { standby: true, held: [] })
  t.equal(
    a.advert(110).takeover,
    false,
    'request cleared once the peer is standby',
  )
  t.same(settle(a, 110), ['start a'])
  // The other side of a takeover request.
  const b = new Membership({
    ...base,
    self: 'b',
    peer: 'a',
    groups: [{ name: 'a', home: 'b' }],
  })
  round(b, 10, { from: 'a' })
  round(b, 50, { from: 'a' })
  b.tick(71)
  settle(b, 71)
  round(b, 80, { from: 'a', takeover: true })
  t.same(settle(b, 80), ['stop a'])
  t.equal(b.standby, true)
  // Standby ends when the peer dies: never leave the group unheld.
  b.tick(200)
  t.equal(b.standby, false)
  t.same(settle(b, 200), ['start a'])
})

t.test('standby is refused while the peer is dead', async t => {
  const m = new Membership(base)
  t.throws(() => m.requestStandby(0), { code: 'HB_ERR_PEER_DEAD' })
})

t.test(
  'failed start: roll back, let the peer take it, retry later',
  async t => {
    const m = new Membership({ ...base, retryMs: 500 })
    m.tick(1000)
    t.same(settle(m, 1000, false), ['start a'])
    t.same(m.advert(1000).failed, ['a'])
    t.ok(m.takeEvents().some(e => e.type === 'start-failed'))
    m.tick(1499)
    t.same(m.takeActions(), [])
    m.tick(1500)
    t.same(settle(m, 1500), ['start a'], 'retried after the cool-down')
    // The peer takes a group its home has failed.
    const p = new Membership({ ...base, self: 'b', peer: 'a' })
    round(p, 10, { from: 'a', failed: ['a'] })
    p.tick(70)
    t.same(settle(p, 70), ['start a'])
  },
)

t.test(
  'active/active: each holds its own, takes the other on failure',
  async t => {
    const groups = [
      { name: 'a', home: 'a' },
      { name: 'b', home: 'b' },
    ]
    const m = new Membership({ ...base, groups })
    round(m, 10, { held: [{ group: 'b', heldMs: 0 }] })
    t.same(settle(m, 10), [], 'the peer was just heard: settle first')
    round(m, 40, { held: [{ group: 'b', heldMs: 30 }] })
    m.tick(70)
    t.same(settle(m, 70), ['start a'])
    m.tick(141)
    t.same(settle(m, 141), ['start b'])
    const v = m.view(141)
    t.same(
      v.groups.map(g => g.holder),
      ['a', 'a'],
    )
  },
)

t.test(
  'old rounds delivered late on one path do not start a held group',
  async t => {
    // a comes back (auto_failback on) while b still holds a's group. The
    // heartbeat link comes up and flushes rounds b queued while ARP
    // failed, from before b took the group; bcast brings the current one.
    const m = new Membership({ ...base, autoFailback: true })
    const held = [{ group: 'a', heldMs: 5000 }]
    m.heartbeat('ucast eth1', hb({ seq: 100, held: [] }), 10)
    m.heartbeat('ucast eth1', hb({ seq: 101, held: [] }), 10)
    m.heartbeat('bcast eth0', hb({ seq: 140, held }), 12)
    m.heartbeat('ucast eth1', hb({ seq: 102, held: [] }), 13)
    t.same(m.takeActions(), [], 'nothing started on an old round')
    m.tick(71)
    t.same(m.takeActions(), [], 'newest round says b holds it: wait')
    t.equal(m.view(71).groups[0]?.holder, 'b')
    // b releases (a newer round without the group): now a starts it.
    m.heartbeat('ucast eth1', hb({ seq: 141, held: [] }), 80)
    t.same(settle(m, 80), ['start a'])
  },
)

t.test(
  'a deadline passing between tick() and nextWake() is not lost',
  async t => {
    // The runtime ticks, then reads the clock again for the next wake.
    // initdead ending in between left a lone node waiting for ever.
    const m = new Membership(base)
    m.tick(999.9)
    t.same(m.takeActions(), [], 'initdead not over at the tick')
    t.ok(m.nextWake(1000.1) <= 1000.1, 'initdead still due')
    m.tick(1000.1)
    t.same(settle(m, 1000.1), ['start a'], 'alone after initdead')
    t.ok(m.nextWake(1000.1) > 1000.1, 'and then no longer due')
    // The same for the retry after a failed start.
    const r = new Membership({ ...base, retryMs: 500 })
    r.tick(1000)
    settle(r, 1000, false)
    r.tick(1499.9)
    t.ok(r.nextWake(1500.1) <= 1500.1, 'retry still due')
    r.tick(1500.1)
    t.same(settle(r, 1500.1), ['start a'], 'retried')
  },
)

t.test('a peer restart is reported; reconfigure changes timings', async t => {
  const m = new Membership(base)
  round(m, 10, { gen: 1 })
  round(m, 20, { gen: 2 })
  t.ok(m.takeEvents().some(e => e.type === 'peer-restart'))
  m.reconfigure(
    { deadtime: 500, warntime: 200, initdead: 1000, autoFailback: true },
    20,
  )
  m.tick(200)
  t.ok(m.peerAlive, 'new deadtime applies')
})

t.test(
  'nextWake: after tick(now) the next wake is later than now (no 0 ms spin)',
  async t => {
    // Every state the runtime can idle in: walk time past each deadline
    // (initdead, warntime, deadtime, a retry cool-down) and check that a
    // deadline already handled is never offered again.
    const walk = (
      name: string,
      m: Membership,
      until: number,
      step: (now: number) => void = () => {},
    ): void => {
      const bad: number[] = []
      for (let now = 0; now <= until; now += 7) {
        step(now)
        m.tick(now)
        settle(m, now)
        m.tick(now)
        if (m.nextWake(now) <= now) bad.push(now)
      }
      t.same(bad.slice(0, 3), [], `${name}: nothing due, no wake in the past`)
    }
    // Alone, the peer never seen: the old code returned started+initdead
    // for ever once initdead had passed.
    walk('alone past initdead', new Membership(base), 3000)
    const m2 = new Membership({ ...base, pingTotal: 1 })
    walk('alone, own ping nodes lost', m2, 3000, now => {
      if (now === 1400) m2.pingState(0, now)
    })
    // The peer holds the group and beats until 500 ms, then dies; the
    // first start fails and cools down before the retry.
    const m3 = new Membership({ ...base, self: 'b', peer: 'a', retryMs: 300 })
    let failed = 0
    walk('peer alive, then dead, then a retry', m3, 3000, now => {
      if (now < 500 && now % 28 === 0)
        round(m3, now, { from: 'a', held: [{ group: 'a', heldMs: now }] })
      m3.tick(now)
      for (const a of m3.takeActions()) {
        if (a.type === 'start' && !failed++)
          m3.resourceDone(a.group, 'start', false, now)
        else if (a.type !== 'announce')
          m3.resourceDone(a.group, a.type, true, now)
      }
    })
    t.equal(failed, 2, 'one failed start, one retry')
    t.equal(m3.view(3000).active, 'b', 'and ends holding the group')
    const alone = new Membership(base)
    alone.tick(1500)
    t.equal(alone.nextWake(1500), Infinity, 'idle alone: no timer at all')
  },
)

// Issue 15: a fixed deadline declares a live but late peer dead on a loaded
// machine. The deadline follows the measured jitter of the peer's rounds,
// with deadtime as the floor (true deaths stay fast) and deadtimeMax as the
// ceiling.
t.test('adaptive deadline: steady peer, deadtime is the deadline', async t => {
  const m = new Membership({ ...base, self: 'b', peer: 'a', deadtimeMax: 400 })
  const peer: Partial<Heartbeat> = {
    from: 'a',
    held: [{ group: 'a', heldMs: 1 }],
  }
  let now = 0
  for (let i = 0; i < 100; i++) round(m, (now += 30), peer)
  t.equal(m.deadline(), 100, 'quiet network: the floor')
  m.tick(now + 100)
  t.equal(m.peerAlive, true, 'alive at exactly deadtime of silence')
  m.tick(now + 101)
  t.equal(m.peerAlive, false, 'a true death: dead just after deadtime')
  t.match(
    m.takeEvents().filter(e => e.type === 'node'),
    [{ alive: true }, { alive: false, silentMs: 101 }],
  )
})

t.test('adaptive deadline: a jittery peer is late, not dead', async t => {
  const m = new Membership({ ...base, self: 'b', peer: 'a', deadtimeMax: 400 })
  const peer: Partial<Heartbeat> = {
    from: 'a',
    held: [{ group: 'a', heldMs: 1 }],
  }
  // A loaded sender: rounds 30 ms apart on average, some 5 ms, some 90.
  const gaps = [5, 30, 90, 10, 30, 45, 5, 60, 20, 35]
  let now = 0
  for (let i = 0; i < 100; i++)
    round(m, (now += gaps[i % gaps.length] as number), peer)
  const d = m.deadline()
  t.ok(d > 150 && d <= 400, `deadline grew with the jitter (${d} ms)`)
  // The next round comes 150 ms late: a fixed 100 ms deadline fired here.
  m.tick(now + 150)
  t.equal(m.peerAlive, true, 'still alive after 150 ms of silence')
  round(m, now + 150, peer)
  t.same(settle(m, now + 150), [], 'nothing started')
  // A real death is still found, by the ceiling at the latest.
  now += 150
  m.tick(now + 401)
  t.equal(m.peerAlive, false, 'dead after deadtimeMax at the latest')
})

t.test('adaptive deadline: without deadtimeMax it stays deadtime', async t => {
  const m = new Membership({ ...base, self: 'b', peer: 'a' })
  let now = 0
  for (let i = 0; i < 100; i++) round(m, (now += i % 2 ? 5 : 90), { from: 'a' })
  t.equal(m.deadline(), 100)
})

// Chaos finding B: heartbeats cut with the LAN up. The holder's kernel
// still answers ARP for the VIP: the standby must not take the group (a
// split brain, then lost streams when the partition heals).
t.test(
  'LAN claims: a silent peer that still answers for the VIP keeps it',
  async t => {
    const m = new Membership({ ...base, self: 'b', peer: 'a' })
    const peer = (now: number) =>
      round(m, now, { from: 'a', held: [{ group: 'a', heldMs: 5000 }] })
    peer(10)
    peer(40)
    t.notOk(m.probing(60), 'no probing while heartbeats are on time')
    m.tick(101)
    t.ok(m.probing(101), 'probing once the peer is late')
    m.claim('a', 102) // the probe at warntime was answered
    m.tick(141)
    const dead = m.takeEvents()
    t.ok(
      dead.some(e => e.type === 'node' && !e.alive),
      'peer dead',
    )
    t.same(m.takeActions(), [], 'but the VIP answers elsewhere: no takeover')
    for (let now = 170; now <= 500; now += 30) {
      m.claim('a', now)
      m.tick(now)
    }
    t.same(m.takeActions(), [], 'claims keep coming: still no takeover')
    const ev = [...dead, ...m.takeEvents()].filter(e => e.type === 'claim')
    t.same(
      ev,
      [{ type: 'claim', group: 'a', action: 'wait' }],
      'one event per episode',
    )
    // The holder's kernel goes too (power off, or ExecStopPost released it).
    const at = m.nextWake(500)
    t.ok(at <= 500 + 2 * base.deadtime, `woken when the claims expire (${at})`)
    m.tick(at)
    t.same(settle(m, at), ['start a'], 'silence on the LAN too: takeover')
  },
)

t.test(
  'LAN claims: a fresh takeover is given back, an old hold kept',
  async t => {
    // b took the group during the silence (its probes went unanswered).
    const b = new Membership({ ...base, self: 'b', peer: 'a' })
    round(b, 10, { from: 'a', held: [{ group: 'a', heldMs: 5000 }] })
    b.tick(111)
    t.same(settle(b, 111), ['start a'])
    b.takeEvents()
    b.claim('a', 120) // a's re-announcement
    t.same(
      b.takeEvents().filter(e => e.type === 'claim'),
      [{ type: 'claim', group: 'a', action: 'yield' }],
    )
    t.same(settle(b, 121), ['stop a'], 'b gives it back at once')
    b.tick(150)
    t.same(b.takeActions(), [], 'and does not take it again while claims last')
    // a held the group before the silence: it keeps it and re-announces.
    const a = new Membership({ ...base })
    a.tick(1000)
    settle(a, 1000)
    round(a, 1010, { from: 'b' })
    a.tick(1111)
    a.takeEvents()
    a.claim('a', 1120) // b's gratuitous ARP
    t.same(
      a.takeEvents().filter(e => e.type === 'claim'),
      [{ type: 'claim', group: 'a', action: 'keep' }],
    )
    t.same(settle(a, 1121), ['announce a'], 'a keeps it and re-announces')
    t.equal(a.view(1121).active, 'a')
  },
)

t.test('LAN claims are ignored while the peer is heard', async t => {
  const m = new Membership({ ...base, self: 'b', peer: 'a' })
  round(m, 10, { from: 'a', held: [{ group: 'a', heldMs: 5000 }] })
  m.claim('a', 20)
  t.same(
    m.takeEvents().filter(e => e.type === 'claim'),
    [],
  )
  // a hands over (standby): b takes it though a's GARPs were just seen.
  round(m, 80, { from: 'a', standby: true })
  t.same(settle(m, 80), ['start a'])
})

// Bench finding: a peer that took the VIP shortly before it died had sent
// gratuitous ARPs while still heard; those delayed the takeover by up to a
// claim window (200 ms for the node whose name sorts last).
t.test(
  'LAN claims heard before the peer went silent do not delay a takeover',
  async t => {
    const m = new Membership({ ...base, self: 'b', peer: 'a' })
    const peer = (now: number) =>
      round(m, now, { from: 'a', held: [{ group: 'a', heldMs: 100 }] })
    peer(10)
    m.claim('a', 25) // a's own announcement, while it is heard
    peer(40)
    m.claim('a', 40) // the same instant as its last heartbeat
    m.tick(141)
    t.ok(
      m.takeEvents().some(e => e.type === 'node' && !e.alive),
      'peer dead at its deadline',
    )
    t.same(settle(m, 141), ['start a'], 'and taken over at once')
  },
)
