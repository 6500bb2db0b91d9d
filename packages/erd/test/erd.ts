// The daemon logic against a fake kernel and a hand-driven clock: no
// namespaces, no real time. The kernel adapter itself is exercised by the
// namespace tests in test/integration.

import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger } from '@has/daemon-kit'
import { createErd } from '../src/erd.js'
import { NA_SENDER } from '../src/announce.js'
import { DEFAULTS, type ErdConfig } from '../src/config.js'
import { sameRoute, type Route, type RouteOp } from '../src/routes.js'
import type { Kernel } from '../src/kernel.js'
import type { MonitorEvent } from '../src/netlink-text.js'
import { ManualClock } from '@has/test-support'

function fakeKernel(routes: Route[]) {
  const state = {
    routes,
    carrier: { eth0: true, eth1: true } as Record<string, boolean | undefined>,
    applied: [] as RouteOp[],
    pre: [] as string[],
    ran: [] as string[][],
    emit: (_e: MonitorEvent) => {},
    exit: (_why: string) => {},
    admin: true,
    watching: 0,
    bitReads: 0,
    programs: ['perl'] as string[],
  }
  const kernel: Kernel = {
    carrier: async i => state.carrier[i],
    carrierBit: i => {
      state.bitReads++
      return state.carrier[i] === true
    },
    speed: async () => 1000,
    routes: async () => ({
      routes: [...state.routes],
      skipped: ['blackhole 192.0.2.0/24'],
    }),
    apply: async (ops, pre = []) => {
      state.pre.push(...pre)
      let failed = 0
      for (const o of ops) {
        state.applied.push(o)
        const had = state.routes.some(r => sameRoute(r, o.route))
        state.routes = state.routes.filter(r => !sameRoute(r, o.route))
        if (o.op === 'replace') state.routes.push(o.route)
        else if (!had) failed++
      }
      return {
        failed,
        errors: failed ? 'RTNETLINK answers: No such process' : '',
      }
    },
    addresses: async dev => [
      {
        family: 4,
        address: dev === 'eth0' ? '10.0.0.2' : '10.0.0.3',
        prefixlen: 24,
        scope: 'global',
      },
      {
        family: 6,
        address: dev === 'eth0' ? 'fe80::2' : 'fe80::3',
        prefixlen: 64,
        scope: 'link',
      },
      {
        family: 6,
        address: dev === 'eth0' ? '2001:db8::2' : '2001:db8::3',
        prefixlen: 64,
        scope: 'global',
      },
    ],
    neighbours: async dev =>
      dev === 'eth0'
        ? [
            { address: '2001:db8::9', lladdr: '02:00:00:00:00:09' },
            { address: '10.0.0.1', lladdr: '02:00:00:00:00:01' },
          ]
        : [],
    watch: (onEvent, onExit) => {
      state.emit = onEvent
      state.exit = onExit
      state.watching++
      return { close: () => void state.watching-- }
    },
    run: async cmds => {
      state.ran.push(...cmds.map(c => [...c]))
      return { failed: cmds.length > 1 ? ['x: boom'] : [] }
    },
    canAdminNetwork: async () => state.admin,
    hasProgram: async name => state.programs.includes(name),
  }
  return { kernel, state }
}

const ROUTES: Route[] = [
  {
    family: 4,
    dst: '10.0.0.0/24',
    dev: 'eth0',
    metric: 0,
    protocol: 'kernel',
    scope: 'link',
    prefsrc: '10.0.0.2',
  },
  {
    family: 4,
    dst: '10.0.0.0/24',
    dev: 'eth1',
    metric: 0,
    protocol: 'kernel',
    scope: 'link',
    prefsrc: '10.0.0.2',
  },
  { family: 6, dst: '::/0', dev: 'eth0', metric: 1024, gateway: '2001:db8::1' },
]

function sink() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      for (const l of c.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { lines, logger: createLogger({ name: 'erd', destination: stream }) }
}

async function start(
  cfg: Partial<ErdConfig> = {},
  routes = ROUTES,
  programs = ['perl'],
) {
  const clock = new ManualClock()
  const { kernel, state } = fakeKernel(routes.map(r => ({ ...r })))
  state.programs = programs
  const { lines, logger } = sink()
  const erd = await createErd({
    config: { ...DEFAULTS, updelay: 1000, announce_interval: 100, ...cfg },
    kernel,
    clock,
    logger,
  })
  return { erd, clock, state, lines }
}
const devs = (rs: Route[], dev: string) =>
  rs
    .filter(r => r.dev === dev)
    .map(r => `${r.dst}@${r.metric}`)
    .sort()

t.test(
  'start: copies installed, competing secondary route removed',
  async t => {
    const { erd, state, lines } = await start()
    t.same(devs(state.routes, 'eth1'), ['10.0.0.0/24@100', '::/0@1124'])
    t.same(devs(state.routes, 'eth0'), ['10.0.0.0/24@0', '::/0@1024'])
    t.match(
      lines.find(l => l.event === 'ready'),
      { active: 'primary', saved: 2 },
    )
    t.ok(lines.some(l => /cannot copy/.test(String(l.msg))))
    t.equal(erd.status().active, 'primary')
    t.same(erd.status().ipv6Targets, ['2001:db8::1', '2001:db8::9'])
    await erd.close()
    t.equal(state.watching, 0)
  },
)

t.test(
  'failover on a monitor event, failback after updelay, announcements',
  async t => {
    const { erd, clock, state, lines } = await start()
    state.applied.length = 0
    state.carrier.eth0 = false // the poll agrees with the monitor
    state.emit({ kind: 'link', ifname: 'eth0', carrier: false, deleted: false })
    await erd.idle()
    t.same(devs(state.routes, 'eth0'), [], 'primary routes withdrawn')
    t.match(
      lines.find(l => l.event === 'switch'),
      { from: 'primary', to: 'secondary', ifname: 'eth1' },
    )
    t.same(
      state.pre,
      [
        'neigh replace 2001:db8::9 lladdr 02:00:00:00:00:09 dev eth1 nud reachable',
        'neigh replace 10.0.0.1 lladdr 02:00:00:00:00:01 dev eth1 nud reachable',
      ],
      'known neighbours installed on the new port first',
    )
    t.same(
      state.ran.slice(0, 3),
      [
        [
          'arping',
          '-q',
          '-U',
          '-c',
          '1',
          '-w',
          '0.02',
          '-i',
          'eth1',
          '-S',
          '10.0.0.2',
          '10.0.0.2',
        ],
        [
          'arping',
          '-q',
          '-U',
          '-c',
          '1',
          '-w',
          '0.02',
          '-i',
          'eth1',
          '-S',
          '10.0.0.3',
          '10.0.0.3',
        ],
        ['perl', NA_SENDER, 'eth1', '2001:db8::2', '2001:db8::3'],
      ],
      'gratuitous ARP per IPv4 address, one unsolicited-NA run for the global IPv6 ones',
    )
    t.equal(erd.status().ipv6Announce, 'na')
    const flush = () => new Promise(r => setImmediate(r))
    await flush()
    clock.advance(100)
    await flush()
    clock.advance(100)
    await flush()
    t.equal(
      lines.filter(l => l.event === 'announced').length,
      3,
      'announce_count rounds',
    )

    state.carrier.eth0 = true
    state.emit({ kind: 'link', ifname: 'eth0', carrier: true, deleted: false })
    state.emit({ kind: 'link', ifname: 'eth9', carrier: true, deleted: false })
    await erd.idle()
    t.equal(erd.status().links.primary.phase, 'coming-up')
    t.ok(erd.status().links.primary.until)
    clock.advance(999)
    await erd.idle()
    t.equal(erd.status().active, 'secondary')
    clock.advance(1)
    await erd.idle()
    t.equal(erd.status().active, 'primary')
    t.same(devs(state.routes, 'eth0'), ['10.0.0.0/24@0', '::/0@1024'])
    t.same(
      erd.status().transitions.map(x => x.to),
      ['secondary', 'primary'],
    )
    const metrics = await erd.registry!.metrics()
    t.match(metrics, /erd_switches_total\{to="primary"\} 1/)
    t.match(metrics, /erd_active_link\{link="primary"\} 1/)
    await erd.close()
  },
)

t.test(
  'no perl: one clear warning, IPv6 falls back to solicitations',
  async t => {
    const { erd, state, lines } = await start({}, ROUTES, [])
    const warn = lines.filter(l => l.code === 'ERD_ERR_NO_PERL')
    t.equal(warn.length, 1)
    t.match(warn[0]?.msg, /perl not found.*neighbour solicitations/)
    t.equal(erd.status().ipv6Announce, 'ns')
    t.match(
      lines.find(l => l.event === 'ready'),
      { ipv6Announce: 'ns' },
    )
    state.carrier.eth0 = false
    state.emit({ kind: 'link', ifname: 'eth0', carrier: false, deleted: false })
    await erd.idle()
    await new Promise(r => setImmediate(r))
    t.notOk(state.ran.some(c => c[0] === 'perl'))
    t.same(
      state.ran
        .filter(c => c[0] === 'ndisc6' && c[7] === '2001:db8::2')
        .map(c => c[8]),
      ['2001:db8::1', '2001:db8::9'],
    )
    await erd.close()

    const off = await start({ ipv6: false }, ROUTES, [])
    t.notOk(
      off.lines.some(l => l.code === 'ERD_ERR_NO_PERL'),
      'no warning when IPv6 is off',
    )
    await off.erd.close()
  },
)

t.test(
  'poll backstop finds a loss the monitor missed; monitor restarts',
  async t => {
    const { erd, clock, state, lines } = await start({ poll_interval: 100 })
    state.carrier.eth0 = false
    clock.advance(100)
    await new Promise(r => setImmediate(r))
    await erd.idle()
    t.equal(erd.status().active, 'secondary')
    t.match(
      await erd.registry!.metrics(),
      /erd_link_events_total\{source="poll"\} 1/,
    )
    state.exit('killed')
    t.ok(lines.some(l => /link monitor stopped/.test(String(l.msg))))
    clock.advance(1000)
    t.equal(state.watching, 2, 'restarted')
    await erd.close()
  },
)

t.test(
  'polls: the active link every poll_interval, both links every second',
  async t => {
    const { erd, clock, state, lines } = await start()
    const tick = async (ms: number) => {
      clock.advance(ms)
      await new Promise(r => setImmediate(r))
      await erd.idle()
    }
    const before = lines.length
    await tick(1000)
    t.equal(
      state.bitReads,
      10,
      'one carrier-bit read of the active link per 100 ms',
    )
    t.equal(lines.length, before, 'steady samples do nothing')
    // The standby's loss is found by the full check, within a second.
    state.carrier.eth1 = false
    await tick(900)
    t.equal(
      erd.status().links.secondary.phase,
      'up',
      'the fast poll reads only the active link',
    )
    await tick(100)
    t.equal(erd.status().links.secondary.phase, 'down')
    state.carrier.eth1 = true
    await tick(1000)
    t.equal(erd.status().links.secondary.phase, 'coming-up')
    await tick(1000)
    t.equal(erd.status().links.secondary.phase, 'up')
    // The active link's loss with no event (kernel holding it back): 100 ms.
    state.carrier.eth0 = false
    await tick(100)
    t.equal(erd.status().active, 'secondary')
    // Its return seen only by the full check, then updelay (1 s here).
    state.carrier.eth0 = true
    await tick(1000)
    t.equal(erd.status().links.primary.phase, 'coming-up')
    await tick(1000)
    t.equal(erd.status().active, 'primary', 'back after updelay')
    t.match(
      await erd.registry!.metrics(),
      /erd_link_events_total\{source="poll"\} 4/,
    )
    await erd.close()
  },
)

t.test(
  'link_events off: the full check every poll_interval, as bonding',
  async t => {
    const { erd, clock, state } = await start({ link_events: false })
    state.carrier.eth1 = false
    clock.advance(100)
    await new Promise(r => setImmediate(r))
    t.equal(erd.status().links.secondary.phase, 'down')
    t.equal(state.bitReads, 0)
    t.equal(state.watching, 0, 'no monitor')
    await erd.close()
  },
)

t.test(
  'a link change without a switch re-reads the table (kernel re-adds routes)',
  async t => {
    const { erd, state } = await start()
    state.emit({ kind: 'link', ifname: 'eth0', carrier: false, deleted: false })
    await erd.idle()
    // The admin bounces eth0: the kernel puts its prefix route back.
    state.routes.push({ ...ROUTES[0]! })
    state.emit({ kind: 'link', ifname: 'eth0', carrier: true, deleted: false })
    await erd.idle()
    t.same(
      devs(state.routes, 'eth0'),
      [],
      'removed again while the secondary is active',
    )
    await erd.close()
  },
)

t.test('both links down: routes left alone; neighbours remembered', async t => {
  const { erd, state, lines } = await start()
  state.emit({
    kind: 'neigh',
    ifname: 'eth0',
    address: '2001:db8::77',
    lladdr: '02:00:00:00:00:77',
    deleted: false,
  })
  state.emit({
    kind: 'neigh',
    ifname: 'eth0',
    address: 'fe80::5',
    deleted: false,
  })
  state.emit({
    kind: 'neigh',
    ifname: 'eth3',
    address: '2001:db8::78',
    lladdr: '02:00:00:00:00:78',
    deleted: false,
  })
  state.emit({ kind: 'link', ifname: 'eth0', carrier: false, deleted: false })
  state.emit({ kind: 'link', ifname: 'eth1', carrier: false, deleted: false })
  await erd.idle()
  t.equal(erd.status().active, null)
  t.ok(lines.some(l => l.event === 'switch' && l.to === null))
  t.ok(erd.status().ipv6Targets.includes('2001:db8::77'))
  t.notOk(
    erd.status().ipv6Targets.includes('fe80::5'),
    'unresolved link-local: nothing to tell',
  )
  t.notOk(
    erd.status().ipv6Targets.includes('2001:db8::78'),
    'other interfaces ignored',
  )
  await erd.close()
})

t.test('reload: timings apply, interfaces need a restart', async t => {
  const { erd } = await start()
  await erd.reload({ ...DEFAULTS, updelay: 5000, poll_interval: 50 })
  t.throws(() => erd.reload({ ...DEFAULTS, primary: 'eth5' }), {
    code: 'ERD_ERR_RESTART_NEEDED',
  })
  await erd.close()
})

t.test('operator switch command', async t => {
  const { erd, state } = await start()
  const sw = erd.commands!.switch!
  t.throws(() => sw(['sideways']), { code: 'ERD_ERR_SWITCH' })
  t.same(sw(['secondary']), { active: 'secondary', pinned: 'secondary' })
  await erd.idle()
  t.same(devs(state.routes, 'eth0'), [])
  state.emit({ kind: 'link', ifname: 'eth1', carrier: true, deleted: false })
  t.equal(
    erd.status().active,
    'secondary',
    'pinned: primary_reselect does not undo it',
  )
  t.same(sw(['auto']), { active: 'primary', pinned: null })
  state.emit({ kind: 'link', ifname: 'eth0', carrier: false, deleted: false })
  t.throws(() => sw(['primary']), { code: 'ERD_ERR_SWITCH' })
  await erd.close()
})

t.test('refuses to start without privilege or interfaces', async t => {
  const clock = new ManualClock()
  const a = fakeKernel(ROUTES)
  a.state.admin = false
  await t.rejects(createErd({ config: DEFAULTS, kernel: a.kernel, clock }), {
    code: 'ERD_ERR_PRIVILEGE',
  })
  const b = fakeKernel(ROUTES)
  b.state.carrier.eth1 = undefined
  await t.rejects(createErd({ config: DEFAULTS, kernel: b.kernel, clock }), {
    code: 'ERD_ERR_NO_INTERFACE',
    message: /"eth1" \(secondary\)/,
  })
})

t.test(
  'restart in failover rebuilds the primary routes from the copies',
  async t => {
    const copies: Route[] = [
      {
        family: 4,
        dst: '10.0.0.0/24',
        dev: 'eth1',
        metric: 100,
        protocol: '190',
        scope: 'link',
      },
    ]
    const { erd, state, lines } = await start({ link_events: false }, copies)
    t.ok(lines.some(l => /rebuilt/.test(String(l.msg))))
    t.same(devs(state.routes, 'eth0'), ['10.0.0.0/24@0'])
    await erd.close()
    const none = await start({}, [])
    t.ok(none.lines.some(l => /no routes to protect/.test(String(l.msg))))
    await none.erd.close()
  },
)

// Chaos finding D: the first announcement goes out at the switch, through
// the long-lived announcer, not after the route batch and process starts.
t.test(
  'switch: the announcer announces before the route batch; its failure falls back to commands',
  async t => {
    const clock = new ManualClock()
    const { kernel, state } = fakeKernel(ROUTES.map(r => ({ ...r })))
    const order: string[] = []
    const asked: string[][] = []
    let fail = false
    const apply = kernel.apply
    kernel.apply = async (ops, pre) => {
      order.push('routes')
      return apply(ops, pre)
    }
    kernel.announce = async (dev, addresses) => {
      order.push('announce')
      asked.push([dev, ...addresses])
      return fail
        ? { sent: 1, error: 'packet socket: Operation not permitted (1 sent)' }
        : { sent: addresses.length }
    }
    const { lines, logger } = sink()
    const erd = await createErd({
      config: { ...DEFAULTS, updelay: 1000, announce_count: 1 },
      kernel,
      clock,
      logger,
    })
    order.length = 0
    state.carrier.eth0 = false
    state.emit({ kind: 'link', ifname: 'eth0', carrier: false, deleted: false })
    await erd.idle()
    await new Promise(r => setImmediate(r))
    t.same(
      order.slice(0, 2),
      ['announce', 'routes'],
      'announced at the switch, before the route batch',
    )
    t.same(
      asked,
      [['eth1', '10.0.0.2', '10.0.0.3', '2001:db8::2', '2001:db8::3']],
      'every address once, link-local ones never',
    )
    t.same(state.ran, [], 'no process started')
    t.match(
      lines.find(l => l.event === 'announced'),
      { dev: 'eth1', sent: 4, via: 'announcer' },
    )

    fail = true
    state.carrier.eth0 = true
    state.emit({ kind: 'link', ifname: 'eth0', carrier: true, deleted: false })
    clock.advance(1000)
    await erd.idle()
    await new Promise(r => setImmediate(r))
    t.equal(erd.status().active, 'primary')
    t.match(
      lines.find(l => /announcer failed/.test(String(l.msg))),
      { error: /Operation not permitted/, dev: 'eth0' },
    )
    t.same(
      state.ran.map(c => c[0]),
      ['arping', 'perl'],
      "that round fell back to arping and erd-na (the primary's addresses)",
    )
    t.match(lines.filter(l => l.event === 'announced').at(-1), {
      dev: 'eth0',
      via: 'commands',
    })
    await erd.close()
  },
)
