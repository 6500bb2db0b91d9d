// One fuzz target per parser and codec, each with a corpus of valid
// samples, the error type its package documents, and inputs for the growth
// check. Everything comes from the built packages' public exports, except
// what an index does not export (named where imported from dist/):
// ha-nfs-mount's RPC reply decoder, traffic-manager's nft/ip output
// parsers, heartbeatd's `ip -j addr` and VIP spec parsers, and hasctl
// (not linked under node_modules/@has).

import * as kit from '@has/daemon-kit'
import * as tm from '@has/traffic-manager'
import * as tc from '@has/traffic-client'
import * as hb from '@has/heartbeatd'
import * as ld from '@has/ldirectord'
import * as erd from '@has/erd'
import * as hnm from '@has/ha-nfs-mount'
import * as cs from '@has/conn-syncd'
import * as ra from '@has/radvd-lite'
import * as va from '@has/vip-announcer'
import { parseReply } from '../../packages/ha-nfs-mount/dist/rpc.js'
import { parseNftCounters, parseConntrackLine } from '../../packages/traffic-manager/dist/nft/kernel-counters.js'
import { parseDrListing } from '../../packages/traffic-manager/dist/nft/dr-counters.js'
import { parseRouteGet, parseNeighMac, parseLinkMac } from '../../packages/traffic-manager/dist/nft/dr-neighbours.js'
import { parseIpAddrJson } from '../../packages/heartbeatd/dist/interfaces.js'
import { parseVipSpec } from '../../packages/heartbeatd/dist/ipaddr-native.js'
import * as hasctl from '../../packages/hasctl/dist/index.js'

const text = b => b.toString('utf8')
const KEY = 'fuzz-shared-key-0123456789'
const AUTH = { active: 1, keys: [{ index: 1, algorithm: 'sha1', secret: KEY }] }

// Long runs that made parsers quadratic or backtrack (issue 19.10).
const CONFIG_GROWTH = [
  { piece: 'a \\\n' },
  { piece: ' ', prefix: 'x', suffix: 'y\\\nz\n' },
  { piece: '\t', suffix: '\r' },
  { piece: '#' },
  { piece: '/' },
  { piece: 'x ' },
]

function configTarget(name, run, corpus) {
  return { name, run: b => run(text(b)), corpus, growth: CONFIG_GROWTH }
}

function hcs1Samples() {
  const base = { type: cs.MSG_DATA, flags: 0, epoch: 1732390000000n, seq: 1, sender: 'm1' }
  const out = [cs.encodeMessage({ ...base, records: [] }, 'sha256', KEY)]
  try {
    out.push(cs.encodeMessage({ ...base, records: [{ kind: 'persist', entry: { service: 'web', client: '10.0.0.1', node: '10.0.0.11', ttl: 300 } }] }, 'sha256', KEY))
  } catch { /* record shape changed; the empty message still seeds */ }
  out.push(cs.encodeMessage({ ...base, type: cs.MSG_RESYNC_REQUEST, records: [] }, 'sha256', KEY))
  return out
}

/** Re-signs a mutated HCS1 datagram so records are fuzzed past the MAC (what a key holder can send). */
function resign(b) {
  const mac = cs.MAC_LENGTH.sha256
  if (b.length <= mac) return b
  const body = b.subarray(0, b.length - mac)
  return Buffer.concat([body, cs.sign(body, 'sha256', KEY)])
}

function raSample() {
  try {
    const r = ra.parseConfig('interface eth0 {\n AdvSendAdvert on;\n prefix 2001:db8:1::/64 { };\n RDNSS 2001:db8::53 { };\n DNSSL example.org { };\n};\n', 'radvd.conf')
    const iface = r.config?.interfaces?.[0]
    if (iface && ra.raContent) return [ra.buildRa(ra.raContent(iface, { mac: Buffer.from('020000000001', 'hex') }))]
  } catch { /* fall through */ }
  // A minimal valid RA: type 134, code 0, hop limit 64, lifetime 1800.
  return [Buffer.from('8600000040000708000000000000000001010200000000010301', 'hex').subarray(0, 16)]
}

export const TARGETS = [
  configTarget('daemon-kit sourceLines', t => kit.sourceLines(t, 'f.conf'), ['a 1\n# c\nb "x # y" \\\n  c\n\tindented\n']),
  configTarget('daemon-kit splitWords', t => kit.splitWords(t), ['request "/a b.html" x "q\\"x"']),
  { name: 'daemon-kit LineSplitter', corpus: ['status\nweight a b 3\r\n', 'x'], growth: [{ piece: 'ab\n' }, { piece: 'a' }],
    run: b => { const s = new kit.LineSplitter(4096, () => {}, () => {}); s.push(b.subarray(0, b.length >> 1)); s.push(b.subarray(b.length >> 1)) } },
  configTarget('daemon-kit parseControlLine', t => kit.parseControlLine(t), ['weight web 127.0.0.11 3', 'status']),
  configTarget('daemon-kit parseDuration/parseHostPort', t => { kit.parseDuration(t, 'ms'); kit.parseHostPort(t) }, ['1500ms', '2s', '[::1]:80', '10.0.0.1:7000']),

  configTarget('traffic-manager tmd.conf', t => tm.parseConfig(t, 'tmd.conf'), [
    'port 7070\nlisten 127.0.0.1\ntraffic1 10.0.0.11\ntraffic2 10.0.0.12\nvirtual 10.0.0.100:80\n  scheduler wlc\n  real 10.0.0.11:80\n',
  ]),
  { name: 'traffic-manager LOAD report', corpus: [
      'LOAD 1 192.168.1.100 4484 up tc 1732390000000 17 formula=thesis mac=bebcb594d8c482da845c8db0ab8d8c586c866c4a20c28a4073ef0f37c87337cc',
      'LOAD 1 ::1 0 drain ld 1 1\r\n'],
    run: b => { const p = tm.parseReport(b); if (p && p.ok !== false && p.signed !== undefined) tm.verifyReport(p, KEY) },
    growth: [{ piece: ' k=v', prefix: 'LOAD 1 10.0.0.1 1 up tc 1 1' }, { piece: ' ' }] },
  configTarget('traffic-client tcd.conf', t => tc.parseConfig(t, 'tcd.conf'), [
    'node 10.0.0.11\nmaster1 10.0.0.1\nport 7070\nupdates 1000\nformula thesis\nkey 0123456789abcdef\n',
  ]),
  configTarget('heartbeatd ha.cf', t => hb.parseHaCf(t, 'ha.cf'), [
    'node master1\nnode master2\nudpport 694\nucast eth0 10.0.0.2\nkeepalive 1\ndeadtime 10\nauto_failback on\n',
  ]),
  configTarget('heartbeatd authkeys', t => hb.parseAuthkeys(t, 'authkeys', new kit.IssueList()), ['auth 1\n1 sha1 a-long-random-secret\n2 md5 "old  secret # kept"\n']),
  configTarget('heartbeatd haresources', t => hb.parseHaresources(t, 'haresources', ['master1', 'master2'], new kit.IssueList()), [
    'master1 IPaddr::10.0.0.100/24/eth0 hadaemon::traffic-manager\n',
  ]),
  { name: 'heartbeatd HB1 packet', corpus: ['HB1 master1 1764500000000 42 u - 1/1 master1@1500 - 2 460b35d4adfdc534224fe7ee937d01a152544e00'],
    run: b => hb.decodeHeartbeat(b, AUTH), growth: [{ piece: ' ', prefix: 'HB1 m 1 1 u - 1/1 ' }] },
  configTarget('heartbeatd events (server lines)', t => { const l = hb.parseServerLine(t); if (l) hb.formatServerLine(l) }, [
    'HELLO 1 master1', 'MEMBER master2 up', 'ERR HB_ERR_X text', 'PONG']),
  configTarget('heartbeatd events (client lines)', t => hb.parseClientLine(t), ['PING', 'SUBSCRIBE', 'STATUS']),
  configTarget('ldirectord ldirectord.cf', t => ld.parseConfig(t, 'ldirectord.cf'), [
    'checktimeout = 3\ncheckinterval = 1\nautoreload = yes\nquiescent = yes\nvirtual = 10.0.0.100:80\n\treal = 10.0.0.11:80 gate\n\treal = 10.0.0.12:80 gate\n\tservice = http\n\trequest = "/index.html"\n\treceive = "ok"\n\tscheduler = wlc\n\tprotocol = tcp\n\tchecktype = negotiate\n',
  ]),
  configTarget('erd erd.conf', t => erd.parseConfig(t, 'erd.conf'), ['primary eth0\nsecondary eth1\nmiimon 100ms\nupdelay 2s\n']),
  configTarget('erd ip monitor lines', t => erd.parseMonitorLine(t), [
    '2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP', '10.0.0.1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE']),
  // `ip -j` output: JSON.parse's SyntaxError on non-JSON is the expected
  // failure; a JSON value of another shape must not throw.
  { name: 'erd ip -j addresses/neighbours', errorNames: ['SyntaxError'], growth: [],
    corpus: ['[{"ifname":"eth0","address":"02:00:00:00:00:01","addr_info":[{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]',
      '[{"dst":"10.0.0.1","lladdr":"02:00:00:00:00:01","state":["REACHABLE"]}]', '{}', 'null', '[null,1,"x"]'],
    run: b => { erd.parseAddresses(text(b)); erd.parseNeighbours(text(b)) } },
  configTarget('ha-nfs-mount config', t => hnm.parseConfig(t, 'ha-nfs-mount.conf'), [
    'mount /srv/www\n  source nfs1:/export/www\n  source nfs2:/export/www\n  options ro,soft\n',
  ]),
  { name: 'ha-nfs-mount RPC reply (not exported; dist/rpc.js)', errorNames: ['RpcDecodeError'],
    corpus: [Buffer.from('0000000100000001000000000000000000000000000000000000000000000001', 'hex')],
    run: b => parseReply(b), growth: [] },
  configTarget('conn-syncd conn-syncd.conf', t => cs.parseConfig(t, 'conn-syncd.conf'), [
    'node m1\nlisten 127.0.0.1:6950\npeer 10.0.0.12\nauth-key secret-key-1\nservice 10.0.0.100:80\n',
  ]),
  configTarget('conn-syncd conntrack rows', t => cs.parseConntrackRow(t), [
    '[NEW] tcp      6 120 SYN_SENT src=10.77.0.1 dst=10.77.0.100 sport=40000 dport=80 [UNREPLIED] src=10.77.0.21 dst=10.77.0.100 sport=8080 dport=40000',
    'ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.0.1 dst=10.77.0.100 sport=40000 dport=80 src=10.77.0.21 dst=10.77.0.100 sport=8080 dport=40000 [ASSURED] mark=0 use=1',
  ]),
  configTarget('conn-syncd membership lines', t => cs.parseMembershipLine(t), ['MEMBER master2 up', 'HELLO 1 m1']),
  { name: 'conn-syncd HCS1 datagram (re-signed)', errorNames: ['ProtocolError'], corpus: hcs1Samples(),
    run: b => cs.decodeMessage(resign(b), 'sha256', KEY), growth: [] },
  { name: 'conn-syncd HCS1 datagram (as received)', errorNames: ['ProtocolError'], corpus: hcs1Samples(),
    run: b => cs.decodeMessage(b, 'sha256', KEY), growth: [] },
  configTarget('radvd-lite radvd.conf', t => ra.parseConfig(t, 'radvd.conf'), [
    'interface eth0 {\n  AdvSendAdvert on;\n  MaxRtrAdvInterval 25.5;\n  prefix 2001:db8:1::/64 {\n    AdvOnLink on;\n  };\n  RDNSS 2001:db8::53 { };\n  DNSSL Example.org { };\n};\n',
  ]),
  { name: 'radvd-lite RA', errorNames: ['NdpParseError'], corpus: raSample(), run: b => ra.parseRa(b), growth: [] },
  { name: 'daemon-kit number/bool/epoch-state parsers', corpus: ['42', '-7', '1.5', 'on', 'No', '1732390000000\n'], growth: [{ piece: '0' }, { piece: ' ' }],
    run: b => { const t = text(b); kit.parseIntRange(t, 0, 65535); kit.parseNumberRange(t, 0, 1); kit.parseBool(t); kit.parseEpochState(t) } },
  configTarget('vip-announcer vip-announcer.conf', t => va.parseConfig(t, 'vip-announcer.conf'), [
    'bird-socket /run/bird/bird.ctl\nprotocol vip4\ntraffic-manager /run/has/traffic-manager.sock\nservice 10.0.0.100:80\nmin-nodes 1\ncheck-interval 50ms\nsettle 1s\ndrain 5s\n']),
  { name: 'vip-announcer BIRD control-socket replies', errorNames: ['BirdSyntaxError'],
    corpus: ['0001 BIRD 2.0.12 ready.\n', '0011 vip4: enabled\n', '2002-Name       Proto      Table      State  Since         Info\n1002-vip4       Static     master4    up     12:00:00.000  \n0000 \n', '+notice\n8003 No protocols match\n'],
    growth: [{ piece: '0011 x\n' }, { piece: '1002-x\n', suffix: '0000 \n' }, { piece: ' ', prefix: '1002-a\n' }],
    run: b => { const p = new va.BirdReplyParser(); const t = text(b); for (const r of [...p.push(t.slice(0, t.length >> 1)), ...p.push(t.slice(t.length >> 1))]) { va.toggleOutcome(r, 'enable'); va.toggleOutcome(r, 'disable'); va.parseProtocolRows(r) } } },
  configTarget('hasctl hasctl.conf (dist/)', t => hasctl.parseConfig(t, 'hasctl.conf'), [
    'remote 10.0.0.2:7999\ncontrol traffic-manager /run/has/traffic-manager/control.sock\ntimeout 2s\n']),
  { name: 'traffic-client procfs (stat, meminfo, cpuinfo)', growth: [{ piece: 'cpu 1 2 3 4\n' }, { piece: ' ' }],
    corpus: ['cpu  4705 356 584 3699 23 23 0 0 0 0\ncpu0 1393280 32966 572056 13343292 6130 0 17875 0 0 0\nintr 1\n',
      'MemTotal:       16333344 kB\nMemFree:         1211960 kB\nMemAvailable:    9321236 kB\n',
      'processor\t: 0\nmodel name\t: x\ncpu MHz\t\t: 2400.000\nbogomips\t: 4800.00\n\nprocessor\t: 1\n'],
    run: b => { const t = text(b); tc.parseStat(t); tc.parseMeminfo(t); tc.parseCpuinfo(t) } },
  configTarget('traffic-client master address', t => tc.parseMaster('master1', t), ['10.0.0.1', '10.0.0.1:7000', '[fd00::1]:7000', 'fd00::1']),
  configTarget('ha-nfs-mount source', t => hnm.parseSource(t), ['nfs1,nfs2:/export/www', '[fd00::1]:/x']),
  configTarget('heartbeatd VIP spec and resource (dist/)', t => { parseVipSpec(t); hb.parseResource(t) }, ['10.0.0.100/24/eth0', 'IPaddr::10.0.0.100/24/eth0', 'fd00::64/64']),
  { name: 'heartbeatd ip -j addr (dist/)', errorNames: ['SyntaxError'], growth: [],
    corpus: ['[{"ifname":"eth0","addr_info":[{"family":"inet","local":"10.0.0.2","prefixlen":24,"label":"eth0"}]}]', '[null,1,"x"]', '{}'],
    run: b => parseIpAddrJson(text(b)) },
  { name: 'traffic-manager nft/ip/conntrack output (dist/)', growth: [{ piece: ' src=1' , prefix: 'tcp 6 1 ESTABLISHED' }],
    corpus: ['{"nftables":[{"counter":{"family":"ip","table":"has","name":"b1","packets":3,"bytes":180}}]}',
      '{"nftables":[{"set":{"name":"flows","elem":[1,2]}}]}', '[{"dst":"10.0.0.11","dev":"eth0","gateway":"10.0.0.1","type":"unicast"}]',
      '[{"dst":"10.0.0.11","lladdr":"02:00:00:00:00:01","state":["REACHABLE"]}]', '[{"address":"02:00:00:00:00:01"}]',
      'ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.0.1 dst=10.77.0.100 sport=40000 dport=80 src=10.77.0.21 dst=10.77.0.1 sport=80 dport=40000 [ASSURED] mark=0 use=1'],
    run: b => { const t = text(b); parseNftCounters(t); parseDrListing(t); parseRouteGet(t); parseNeighMac(t, '10.0.0.11'); parseLinkMac(t); parseConntrackLine(t) } },
  // parseRoutes refuses JSON that is not an array (the caller logs it).
  { name: 'erd ip -j routes', errorNames: ['SyntaxError'], growth: [],
    corpus: ['[{"dst":"default","gateway":"10.0.0.1","dev":"eth0","protocol":"static","flags":[]},{"dst":"10.0.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.0.0.2"}]',
      '[{"type":"blackhole","dst":"10.9.0.0/16"},{"dst":"10.8.0.0/16","nexthops":[{}]},null]'],
    run: b => { try { erd.parseRoutes(text(b), 4) } catch (e) { if (!(e instanceof TypeError && e.message === 'expected a JSON array')) throw e } } },
  { name: 'radvd-lite RS', errorNames: ['NdpParseError'], corpus: [Buffer.from('85000000000000000101020000000001', 'hex')],
    run: b => ra.checkRs(b, 'fe80::1', 255), growth: [] },
]
