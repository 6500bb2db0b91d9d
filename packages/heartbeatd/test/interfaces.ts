// The interface table must include links without carrier: libuv's
// os.networkInterfaces() drops them, and heartbeatd then refused to start
// on a node whose direct heartbeat cable leads to a powered-off peer.
import t from 'tap'
import {
  hostInterfaces,
  mergeInterfaces,
  parseIpAddrJson,
} from '../src/interfaces.js'
import { resolvePaths } from '../src/paths.js'
import { parseHaCf } from '../src/config.js'
import type { Interfaces } from '../src/paths.js'

// `ip -j -4 addr show` with eth1 up but NO-CARRIER (peer switched off).
const IP_JSON = JSON.stringify([
  {
    ifindex: 1,
    ifname: 'lo',
    flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
    operstate: 'UNKNOWN',
    addr_info: [
      { family: 'inet', local: '127.0.0.1', prefixlen: 8, label: 'lo' },
    ],
  },
  {
    ifindex: 2,
    ifname: 'eth0',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    operstate: 'UP',
    address: '02:00:00:00:00:01',
    addr_info: [
      { family: 'inet', local: '10.0.0.1', prefixlen: 24, label: 'eth0' },
      { family: 'inet', local: '10.0.0.50', prefixlen: 24, label: 'eth0:1' },
    ],
  },
  {
    ifindex: 3,
    ifname: 'eth1',
    flags: ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'],
    operstate: 'DOWN',
    address: '02:00:00:00:00:02',
    addr_info: [
      { family: 'inet', local: '10.0.1.1', prefixlen: 30, label: 'eth1' },
    ],
  },
])

// What libuv reports on that host: eth1 is missing.
const libuv: Interfaces = {
  lo: [
    {
      address: '127.0.0.1',
      netmask: '255.0.0.0',
      family: 'IPv4',
      mac: '00:00:00:00:00:00',
      internal: true,
      cidr: '127.0.0.1/8',
    },
  ],
  eth0: [
    {
      address: '10.0.0.1',
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: '10.0.0.1/24',
    },
    {
      address: 'fe80::1',
      netmask: 'ffff:ffff:ffff:ffff::',
      family: 'IPv6',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: 'fe80::1/64',
      scopeid: 2,
    },
  ],
}

const HA_CF = [
  'bcast eth0',
  'ucast eth1 10.0.1.1',
  'ucast eth1 10.0.1.2',
  'node a b',
  '',
].join('\n')

t.test('parseIpAddrJson: addresses, masks, loopback, labels', async t => {
  const i = parseIpAddrJson(IP_JSON)
  t.same(Object.keys(i).sort(), ['eth0', 'eth0:1', 'eth1', 'lo'])
  t.match(i.lo?.[0], { address: '127.0.0.1', netmask: '255.0.0.0' })
  t.equal(i.lo?.[0]?.internal, true)
  t.match(i.eth1, [
    {
      address: '10.0.1.1',
      netmask: '255.255.255.252',
      family: 'IPv4',
      internal: false,
      mac: '02:00:00:00:00:02',
      cidr: '10.0.1.1/30',
    },
  ])
  t.same(
    i.eth0?.map(a => a.address),
    ['10.0.0.1', '10.0.0.50'],
  )
  t.same(parseIpAddrJson('[]'), {})
  t.throws(() => parseIpAddrJson('not json'))
})

t.test(
  'parseIpAddrJson skips values of the wrong shape instead of throwing',
  async t => {
    // Found by the fuzzer (bench/fuzz.js): `[null,1,"x"]` threw a TypeError.
    t.same(parseIpAddrJson('[null,1,"x"]'), {})
    t.same(
      parseIpAddrJson(
        '[{"ifname":"e","addr_info":[null,{"family":"inet","local":"10.0.0.1","prefixlen":"24"}]}]',
      ),
      {},
    )
    t.same(
      parseIpAddrJson(
        '[{"ifname":"e","flags":"LOOPBACK","addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":33}]}]',
      ),
      {},
    )
    const ok = parseIpAddrJson(
      '[{"ifname":"e","flags":7,"addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":8}]}]',
    )
    t.equal(ok.e?.[0]?.netmask, '255.0.0.0')
    t.equal(ok.e?.[0]?.internal, false)
  },
)

t.test('a heartbeat link without carrier still resolves to a path', async t => {
  const media = parseHaCf(HA_CF, '/etc/ha.d/ha.cf').config?.media ?? []
  t.equal(media.length, 3)
  const before = resolvePaths(media, 694, libuv)
  t.same(
    before.missing.map(m => m.iface),
    ['eth1', 'eth1'],
    'libuv alone: eth1 looks unconfigured',
  )
  const host = await hostInterfaces(
    async () => IP_JSON,
    () => libuv,
  )
  const after = resolvePaths(media, 694, host)
  t.same(after.missing, [])
  t.same(
    after.paths.map(p => `${p.name} ${p.localAddr} -> ${p.dest}`),
    ['bcast eth0 10.0.0.1 -> 10.0.0.255', 'ucast eth1 10.0.1.1 -> 10.0.1.2'],
  )
  t.equal(host.eth0?.length, 3, 'libuv entries (IPv6 too) kept, VIP added')
})

t.test('mergeInterfaces keeps base order and adds no duplicates', async t => {
  const m = mergeInterfaces(libuv, parseIpAddrJson(IP_JSON))
  t.same(
    m.eth0?.map(a => a.address),
    ['10.0.0.1', 'fe80::1', '10.0.0.50'],
  )
  t.equal(m.lo?.length, 1)
})

t.test('without ip, the libuv table is used', async t => {
  const host = await hostInterfaces(
    () => Promise.reject(new Error('spawn ip ENOENT')),
    () => libuv,
  )
  t.same(host, libuv)
})
