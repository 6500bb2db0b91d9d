import t from 'tap'
import {
  hasNetAdmin,
  parseAddresses,
  parseMonitorLine,
  parseNeighbours,
} from '../src/netlink-text.js'

t.test('ip -o monitor link lines', async t => {
  t.same(
    parseMonitorLine(
      '2: eth0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default \\    link/ether 02:00:00:00:00:02 brd ff:ff:ff:ff:ff:ff link-netns x',
    ),
    { kind: 'link', ifname: 'eth0', carrier: false, deleted: false },
  )
  t.same(
    parseMonitorLine(
      '3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP',
    ),
    {
      kind: 'link',
      ifname: 'eth1',
      carrier: true,
      deleted: false,
    },
  )
  t.match(
    parseMonitorLine(
      '3: eth1: <BROADCAST,MULTICAST,LOWER_UP> mtu 1500 state DOWN',
    ),
    { carrier: false },
    'admin down',
  )
  t.match(
    parseMonitorLine(
      'Deleted 3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500',
    ),
    { carrier: false, deleted: true },
  )
  t.match(parseMonitorLine('[LINK]4: ens3: <UP,LOWER_UP> mtu 1500'), {
    ifname: 'ens3',
    carrier: true,
  })
  t.match(
    parseMonitorLine('4: ens3: <UP,LOWER_UP> mtu 1500 state DORMANT'),
    { carrier: false },
    'operstate must be up',
  )
})

t.test('neighbour lines and garbage', async t => {
  t.same(
    parseMonitorLine('2001:db8::1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE'),
    {
      kind: 'neigh',
      ifname: 'eth0',
      address: '2001:db8::1',
      lladdr: '02:00:00:00:00:01',
      deleted: false,
    },
  )
  t.match(
    parseMonitorLine('Deleted fe80::1 dev eth0 lladdr 02:00:00:00:00:01 STALE'),
    { deleted: true },
  )
  t.same(
    parseMonitorLine('10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE'),
    {
      kind: 'neigh',
      ifname: 'eth0',
      address: '10.0.0.1',
      lladdr: '02:00:00:00:00:01',
      deleted: false,
    },
  )
  t.same(parseMonitorLine('10.0.0.9 dev eth0  FAILED'), {
    kind: 'neigh',
    ifname: 'eth0',
    address: '10.0.0.9',
    deleted: false,
  })
  t.equal(parseMonitorLine(''), undefined)
  t.equal(parseMonitorLine('nonsense: <'), undefined)
})

t.test('ip -j addr and neigh', async t => {
  const addr = JSON.stringify([
    {
      ifname: 'eth0',
      address: '02:00:00:00:00:02',
      addr_info: [
        { family: 'inet', local: '10.0.0.2', prefixlen: 24, scope: 'global' },
        { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
        { family: 'inet6', local: '2001:db8::2', prefixlen: 64 },
        {
          family: 'inet6',
          local: 'fd00::2',
          prefixlen: 64,
          scope: 'global',
          dadfailed: true,
          tentative: true,
        },
        { family: 'bogus', local: 'x' },
        { family: 'inet' },
      ],
    },
  ])
  t.same(parseAddresses(addr), {
    mac: '02:00:00:00:00:02',
    addresses: [
      { family: 4, address: '10.0.0.2', prefixlen: 24, scope: 'global' },
      { family: 6, address: 'fe80::1', prefixlen: 64, scope: 'link' },
      { family: 6, address: '2001:db8::2', prefixlen: 64, scope: 'global' },
      {
        family: 6,
        address: 'fd00::2',
        prefixlen: 64,
        scope: 'global',
        dadfailed: true,
      },
    ],
  })
  t.same(parseAddresses(''), { addresses: [] })
  t.same(parseAddresses('[{}]'), { addresses: [] })
  t.same(
    parseNeighbours(
      '[{"dst":"2001:db8::1","lladdr":"02:00:00:00:00:01","state":["REACHABLE"]},{"dst":"2001:db8::9","lladdr":"02:00:00:00:00:09","state":["FAILED"]},{"dst":"10.0.0.5","state":["INCOMPLETE"]},{}]',
    ),
    [{ address: '2001:db8::1', lladdr: '02:00:00:00:00:01' }],
  )
  t.same(parseNeighbours(''), [])
  t.same(parseNeighbours('{}'), [])
})

t.test(
  'ip -j JSON of an odd shape: odd entries are skipped, never a TypeError (fuzz finding, issue 19)',
  async t => {
    // Before: `[null]` threw "Cannot read properties of null" in both parsers.
    t.same(parseAddresses('[null,1,"x"]'), { addresses: [] })
    t.same(parseNeighbours('[null,1,"x"]'), [])
    t.same(
      parseAddresses(
        '[{"address":7,"addr_info":[null,{"family":"inet","local":5},{"family":"inet","local":"10.0.0.9","prefixlen":"24","scope":[]}]}]',
      ),
      {
        addresses: [
          { family: 4, address: '10.0.0.9', prefixlen: 0, scope: 'global' },
        ],
      },
    )
    t.same(
      parseAddresses('[{"addr_info":{"family":"inet","local":"10.0.0.9"}}]'),
      { addresses: [] },
    )
    t.same(
      parseNeighbours(
        '[{"dst":1,"lladdr":"02:00:00:00:00:01"},{"dst":"10.0.0.1","lladdr":"02:00:00:00:00:01","state":null}]',
      ),
      [{ address: '10.0.0.1', lladdr: '02:00:00:00:00:01' }],
    )
    t.throws(() => parseAddresses('not json'), SyntaxError)
  },
)

t.test('CAP_NET_ADMIN from /proc/self/status', async t => {
  t.equal(hasNetAdmin('Name:\tnode\nCapEff:\t000001ffffffffff\n'), true)
  t.equal(hasNetAdmin('CapEff:\t0000000000001000\n'), true)
  t.equal(hasNetAdmin('CapEff:\t0000000000000000\n'), false)
  t.equal(hasNetAdmin('CapEff:\t0000000000002000\n'), false)
  t.equal(hasNetAdmin('no caps here'), false)
})
