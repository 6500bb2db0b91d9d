import t from 'tap'
import { buildView } from '../src/view.js'
import { buildInfo, type Reading } from '../src/collect.js'
import type { DaemonName } from '../src/daemons.js'

const ok = (daemon: DaemonName, status: unknown, where = 'local'): Reading => ({
  daemon,
  where,
  address: `/run/has/${daemon}.sock`,
  ok: true,
  status,
})
const at = new Date(0)

t.test('problems: all nodes out first, then the rest', async t => {
  const v = buildView(
    [
      ok('erd', {
        active: 'secondary',
        pinned: null,
        links: {
          primary: { ifname: 'eth0', carrier: false, phase: 'down' },
          secondary: { ifname: 'eth1', carrier: true, phase: 'up' },
        },
      }),
      ok('traffic-manager', {
        services: [
          {
            name: 'web',
            scheduler: 'wrr',
            dataplane: 'proxy',
            nodes: [
              { address: '10.0.0.21', port: 80, state: 'timeout', weight: 0 },
              { address: '10.0.0.22', port: 80, state: 'down', weight: 0 },
            ],
          },
        ],
      }),
      ok('ha-nfs-mount', {
        mounts: [
          {
            mountPoint: '/mnt/c',
            active: 'nfs2',
            failovers: 1,
            servers: [{ name: 'nfs2', healthy: true }],
          },
        ],
        syncs: [],
      }),
    ],
    at,
  )
  t.same(v.problems, [
    'service web: all nodes out',
    'erd local: traffic on the secondary NIC',
    'nfs /mnt/c: on nfs2 after 1 failover(s)',
  ])
  t.same(
    v.nics[0]?.links.map(l => [l.role, l.carrier]),
    [
      ['primary', false],
      ['secondary', true],
    ],
  )
})

t.test('a failed-over VIP group and a dead peer', async t => {
  const v = buildView(
    [
      ok('heartbeatd', {
        self: 'b',
        peer: 'a',
        peerAlive: false,
        active: 'b',
        groups: [{ name: 'web', home: 'a', state: 'running', holder: 'b' }],
      }),
    ],
    at,
  )
  t.same(v.problems, [
    'heartbeatd b: peer a is dead',
    'resource group web: on b, home a (failed over)',
  ])
})

t.test(
  'status of an unexpected shape is shown as missing, never a crash',
  async t => {
    const v = buildView(
      [
        ok('traffic-manager', 'garbage'),
        ok('ldirectord', { virtuals: 5 }),
        ok('heartbeatd', { groups: [null, 7] }),
        ok('conn-syncd', null),
        ok('radvd-lite', { interfaces: [{ prefixes: 'x' }] }),
      ],
      at,
    )
    t.same(v.services, [])
    t.same(v.checks, [])
    t.same(
      v.vip[0]?.groups.map(g => g.name),
      ['?', '?'],
    )
    t.same(v.connSync[0]?.localFlows, null)
    t.same(v.ra[0]?.interfaces[0]?.prefixes, [])
  },
)

t.test(
  'local daemons not running are listed, not problems; a dead remote is',
  async t => {
    const v = buildView(
      [
        {
          daemon: 'erd',
          where: 'local',
          address: '/run/has/erd.sock',
          ok: false,
          error: 'not running',
        },
        {
          daemon: null,
          where: '10.0.0.2:9101',
          address: 'http://10.0.0.2:9101',
          ok: false,
          error: 'not running (connection refused)',
        },
        ok('traffic-client', {
          node: '10.0.0.21',
          flag: 'drain',
          load: { load: 120 },
        }),
      ],
      at,
    )
    t.same(
      v.daemons.map(d => [d.daemon, d.state]),
      [
        ['erd', 'not running'],
        ['traffic-client', 'running'],
        [null, 'not running'],
      ],
    )
    t.same(v.problems, [
      'traffic-client 10.0.0.21: flag drain',
      'remote at 10.0.0.2:9101: not running (connection refused)',
    ])
  },
)

t.test('buildInfo names the daemon behind a /metrics listener', async t => {
  t.same(
    buildInfo(
      '# HELP x\nhas_build_info{daemon="heartbeatd",version="0.1.0"} 1\n',
    ),
    { daemon: 'heartbeatd', version: '0.1.0' },
  )
  t.equal(buildInfo('up 1\n'), undefined)
})

t.test(
  'conn-syncd: backlog from kernelPending, not ready is a problem',
  async t => {
    const v = buildView(
      [
        ok('conn-syncd', {
          node: 'm1',
          ready: false,
          localFlows: 10,
          heldEntries: 40,
          kernelPending: 7,
          lost: 0,
          insertFailed: 0,
          peers: [{ name: 'm2', lastSeenMsAgo: 300, entries: 40 }],
        }),
      ],
      at,
    )
    t.match(v.connSync[0], {
      node: 'm1',
      ready: false,
      backlog: 7,
      held: 40,
      peers: [{ name: 'm2', entries: 40 }],
    })
    t.same(v.problems, [
      'conn-syncd m1: not ready (a peer table is missing or not in the kernel yet)',
    ])
    const older = buildView(
      [{ ...ok('conn-syncd', { node: 'm1' }), backlog: 3 }],
      at,
    )
    t.equal(
      older.connSync[0]?.backlog,
      3,
      'an older conn-syncd: the count from `flows`',
    )
  },
)
