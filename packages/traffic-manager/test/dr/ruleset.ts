// The direct-routing ruleset and options, as text (no kernel).
import t from 'tap'
import { buildMaglevTable } from '../../src/maglev.js'
import {
  DEFAULT_DR_OPTIONS,
  bucketVmap,
  buildDrDeleteTable,
  buildDrRuleset,
  drNames,
  maglevId,
  parseDrOptions,
  type DrNode,
} from '../../src/nft/dr-ruleset.js'
import { parseDrListing } from '../../src/nft/dr-counters.js'
import {
  parseLinkMac,
  parseNeighMac,
  parseRouteGet,
} from '../../src/nft/dr-neighbours.js'

const spec = {
  name: '10.9.0.100:80',
  address: '10.9.0.100',
  port: 80,
  family: 4 as const,
}
const node = (i: number, weight = 1): DrNode => ({
  id: `10.9.0.2${i}`,
  host: `10.9.0.2${i}`,
  port: 80,
  weight,
  mac: `02:00:00:00:00:2${i}`,
})

t.test(
  'one transaction: pinned sets first, then the Maglev map; MACs rewritten both ways',
  async t => {
    const nodes = [node(1), node(2, 0)]
    const maglev = buildMaglevTable([{ id: maglevId(node(1)), weight: 1 }], 7)
    const text = buildDrRuleset({
      spec,
      opts: DEFAULT_DR_OPTIONS,
      iface: 'eth0',
      ifaceMac: '02:00:00:00:00:02',
      nodes,
      maglev,
      gone: [node(3)],
    })
    const T = 'netdev has_dr_10_9_0_100_80'
    t.match(
      text,
      `add chain ${T} in { type filter hook ingress device "eth0" priority 0; policy accept; }\nflush chain ${T} in\n`,
    )
    // Sets are never flushed: pinned flows survive every rewrite.
    t.notMatch(text, /flush (table|set)/)
    t.match(
      text,
      `add set ${T} f_10_9_0_21_80 { typeof ip saddr . tcp sport; flags dynamic,timeout; timeout 900s; size 262144; }`,
    )
    t.match(
      text,
      `add rule ${T} to_10_9_0_21_80 update @f_10_9_0_21_80 { ip saddr . tcp sport }\n`,
    )
    t.match(
      text,
      `counter name n_10_9_0_21_80 ether saddr set 02:00:00:00:00:02 ether daddr set 02:00:00:00:00:21 fwd to "eth0"`,
    )
    // The drained node keeps its pinned rule but gets no bucket.
    t.match(
      text,
      `in meta pkttype host ip daddr 10.9.0.100 tcp dport 80 ip saddr . tcp sport @f_10_9_0_22_80 goto to_10_9_0_22_80`,
    )
    t.match(
      text,
      `jhash ip saddr . tcp sport mod 7 seed 0x48415331 vmap { 0-6 : goto nw_10_9_0_21_80 }`,
    )
    t.notMatch(text, /goto nw_10_9_0_22_80/)
    t.match(
      text,
      /vmap \{[^}]*\}\n\S+ \S+ \S+ \S+ in meta pkttype host ip daddr 10\.9\.0\.100 tcp dport 80 counter name vip_fallback goto nw_10_9_0_21_80\n/,
      'a packet the map misses goes to a node, not up the local stack',
    )
    const pinAt = text.indexOf('@f_10_9_0_21_80 goto')
    t.ok(
      pinAt > 0 && pinAt < text.indexOf('jhash'),
      'pinned lookups come before hashing',
    )
    t.match(
      text,
      /delete chain \S+ \S+ nw_10_9_0_23_80\ndelete chain \S+ \S+ to_10_9_0_23_80\ndelete set \S+ \S+ f_10_9_0_23_80/,
    )
    t.ok(
      text.trimEnd().split('\n').at(-6)?.endsWith('counter name vip_none'),
      'no node with weight: counted, left to the local stack',
    )
    t.equal(buildDrDeleteTable(spec), `delete table ${T}\n`)
  },
)

t.test('IPv6 keys and names', async t => {
  const v6 = {
    name: '[fd09::100]:80',
    address: 'fd09::100',
    port: 80,
    family: 6 as const,
  }
  const n: DrNode = {
    id: 'fd09::21',
    host: 'fd09::21',
    port: 80,
    weight: 1,
    mac: '02:00:00:00:00:21',
  }
  const text = buildDrRuleset({
    spec: v6,
    opts: { ...DEFAULT_DR_OPTIONS, protocol: 'udp' },
    iface: 'eth1',
    ifaceMac: '02:00:00:00:00:02',
    nodes: [n],
    maglev: buildMaglevTable([{ id: maglevId(n), weight: 1 }], 7),
    gone: [],
  })
  t.match(text, 'typeof ip6 saddr . udp sport')
  t.match(
    text,
    'ip6 daddr fd09::100 udp dport 80 ip6 saddr . udp sport @f_fd09__21_80',
  )
  t.equal(maglevId(n), '[fd09::21]:80')
  t.same(drNames(n).set, 'f_fd09__21_80')
})

t.test('runs of one node in the bucket map are merged', async t => {
  const tab = {
    size: 5,
    nodes: [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 1 },
    ],
    entries: Uint32Array.from([0, 0, 1, 0, 1]),
  }
  t.equal(
    bucketVmap(tab, i => `c${i}`),
    '0-1 : goto c0, 2 : goto c1, 3 : goto c0, 4 : goto c1',
  )
})

t.test('options: each bad value named', async t => {
  t.same(parseDrOptions({}), DEFAULT_DR_OPTIONS)
  const o = parseDrOptions({
    interface: 'eth1',
    'flow-timeout': '60s',
    'table-size': '307',
    'hash-seed': '7',
    'flow-max': '4096',
    snat: 'vip',
  })
  t.match(o, {
    iface: 'eth1',
    flowTimeoutS: 60,
    tableSize: 307,
    seed: 7,
    flowMax: 4096,
  })
  t.throws(
    () => parseDrOptions({ 'table-size': '300' }),
    /table-size: expected a prime.*"300"/,
  )
  t.throws(
    () => parseDrOptions({ interface: 'eth 1' }),
    /interface: not an interface name: "eth 1"/,
  )
  t.throws(() => parseDrOptions({ 'flow-timeout': '0' }), /flow-timeout/)
  t.throws(() => parseDrOptions({ 'hash-seed': '-1' }), /hash-seed/)
  t.throws(() => parseDrOptions({ protocol: 'sctp' }), /protocol/)
  t.equal(parseDrOptions({ 'weight-interval': '2s' }).weightIntervalMs, 2000)
  t.throws(
    () => parseDrOptions({ 'weight-interval': '90s' }),
    /weight-interval: expected/,
  )
  t.match(parseDrOptions({ interface: 'eth0', 'node-interfaces': 'any' }), {
    iface: 'eth0',
    nodeInterfaces: 'any',
  })
  t.throws(
    () => parseDrOptions({ interface: 'eth0', 'node-interfaces': 'all' }),
    /node-interfaces: expected hooked or any, got "all"/,
  )
  t.throws(
    () => parseDrOptions({ 'node-interfaces': 'any' }),
    /node-interfaces any: needs option interface/,
  )
})

t.test(
  'a node on-link through another interface (node-interfaces any) is sent out of it, with its MAC as source',
  async t => {
    const far: DrNode = {
      ...node(4),
      via: { dev: 'vx4', mac: '02:00:00:00:00:44' },
    }
    const maglev = buildMaglevTable(
      [node(1), far].map(n => ({ id: maglevId(n), weight: 1 })),
      7,
    )
    const opts = parseDrOptions({ interface: 'eth0', 'node-interfaces': 'any' })
    const text = buildDrRuleset({
      spec,
      opts,
      iface: 'eth0',
      ifaceMac: '02:00:00:00:00:02',
      nodes: [node(1), far],
      maglev,
      gone: [],
    })
    t.match(
      text,
      'ether saddr set 02:00:00:00:00:02 ether daddr set 02:00:00:00:00:21 fwd to "eth0"',
    )
    t.match(
      text,
      'ether saddr set 02:00:00:00:00:44 ether daddr set 02:00:00:00:00:24 fwd to "vx4"',
    )
    // The hook stays on the clients' interface.
    t.match(text, 'hook ingress device "eth0"')
  },
)

t.test('parsers: route, neighbour, link, listing', async t => {
  t.same(
    parseRouteGet('[{"dst":"10.9.0.21","dev":"eth0","prefsrc":"10.9.0.2"}]'),
    { dev: 'eth0' },
  )
  t.same(
    parseRouteGet('[{"dst":"10.8.0.5","gateway":"10.9.0.254","dev":"eth0"}]'),
    { dev: 'eth0', gateway: '10.9.0.254' },
  )
  t.equal(parseRouteGet('garbage'), undefined)
  t.equal(
    parseNeighMac(
      '[{"dst":"10.9.0.21","dev":"eth0","lladdr":"02:AA:00:00:00:21","state":["STALE"]}]',
      '10.9.0.21',
    ),
    '02:aa:00:00:00:21',
  )
  t.equal(
    parseNeighMac(
      '[{"dst":"10.9.0.21","dev":"eth0","state":["FAILED"]}]',
      '10.9.0.21',
    ),
    undefined,
  )
  t.equal(
    parseNeighMac(
      '[{"dst":"10.9.0.21","lladdr":"02:aa:00:00:00:21","state":["INCOMPLETE"]}]',
      '10.9.0.21',
    ),
    undefined,
  )
  t.equal(
    parseLinkMac('[{"ifname":"eth0","address":"02:00:00:00:00:02"}]'),
    '02:00:00:00:00:02',
  )
  t.equal(
    parseLinkMac('[{"ifname":"lo","address":"00:00:00:00:00:00"}]'),
    '00:00:00:00:00:00',
  )
  const listing = JSON.stringify({
    nftables: [
      { set: { name: 'f_a', elem: [{ elem: {} }, { elem: {} }] } },
      { set: { name: 'f_b' } },
      { counter: { name: 'n_a', packets: 5, bytes: 300 } },
    ],
  })
  const k = parseDrListing(listing)
  t.same(
    [...k.setSizes],
    [
      ['f_a', 2],
      ['f_b', 0],
    ],
  )
  t.same(k.counters.get('n_a'), { packets: 5, bytes: 300 })
  t.equal(parseDrListing('nope').setSizes.size, 0)
})
