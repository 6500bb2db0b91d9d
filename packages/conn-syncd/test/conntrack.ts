import t from 'tap'
import {
  batchLine,
  deleteArgs,
  insertArgs,
  isNatted,
  origDst,
  parseConntrackRow,
  refreshArgs,
} from '../src/conntrack.js'
import type { Flow } from '../src/flow.js'
import { parseMembershipLine } from '../src/heartbeat-client.js'

const EV =
  '[NEW] tcp      6 120 SYN_SENT src=10.77.0.1 dst=10.77.0.100 sport=40000 dport=80 [UNREPLIED] src=10.77.0.21 dst=10.77.0.100 sport=8080 dport=40000'
const LIST =
  'ipv4     2 tcp      6 431999 ESTABLISHED src=10.77.0.1 dst=10.77.0.100 sport=40000 dport=80 src=10.77.0.21 dst=10.77.0.100 sport=8080 dport=40000 [ASSURED] mark=0 use=1'

t.test('event and list lines become flows with their NAT mapping', async t => {
  const ev = parseConntrackRow(EV, 90)
  t.equal(ev?.event, 'NEW')
  t.equal(ev?.state, 'SYN_SENT')
  t.same(ev?.flow, {
    family: 4,
    proto: 6,
    src: '10.77.0.1',
    dst: '10.77.0.100',
    sport: 40000,
    dport: 80,
    natDst: '10.77.0.21',
    natDport: 8080,
    natSrc: '10.77.0.100',
    natSport: 40000,
    timeout: 90,
  })
  const l = parseConntrackRow(LIST)
  t.equal(l?.event, 'LIST')
  t.equal(l?.state, 'ESTABLISHED')
  t.ok(l && isNatted(l.flow))
  t.equal(
    parseConntrackRow(
      '[DESTROY] icmp 1 src=1.1.1.1 dst=2.2.2.2 type=8 code=0 id=1',
    ),
    undefined,
  )
  t.equal(
    parseConntrackRow(
      'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.',
    ),
    undefined,
  )
})

t.test('insert uses the ORIGINAL tuple with --dst-nat/--src-nat', async t => {
  const f = parseConntrackRow(LIST, 60)?.flow
  if (!f) throw new Error('no flow')
  t.same(insertArgs(f), [
    '-I',
    '-p',
    'tcp',
    '-s',
    '10.77.0.1',
    '-d',
    '10.77.0.100',
    '--sport',
    '40000',
    '--dport',
    '80',
    '--state',
    'ESTABLISHED',
    '-u',
    'SEEN_REPLY,ASSURED',
    '--timeout',
    '60',
    '--dst-nat',
    '10.77.0.21:8080',
    '--src-nat',
    '10.77.0.100:40000',
  ])
  t.same(refreshArgs(f).slice(0, 3), ['-U', '-p', 'tcp'])
  t.same(deleteArgs(f)[0], '-D')
})

t.test(
  'a conntrack -R line is the argument list of its op, joined',
  async t => {
    const v4: Flow = {
      family: 4,
      proto: 6,
      src: '10.77.0.1',
      dst: '10.77.0.100',
      sport: 40000,
      dport: 80,
      natDst: '10.77.0.21',
      natDport: 8080,
      natSrc: '10.77.0.100',
      natSport: 40000,
      timeout: 60,
    }
    const flows: Flow[] = [
      v4,
      // No SNAT: no --src-nat.
      { ...v4, natSrc: v4.src, natSport: v4.sport },
      { ...v4, proto: 17, dport: 53, natDport: 5353 },
      {
        ...v4,
        family: 6,
        src: '2001:db8::1',
        dst: 'fd00::100',
        natDst: 'fd00:0:0:1::21',
        natSrc: 'fd00::100',
      },
    ]
    for (const f of flows) {
      t.equal(batchLine({ op: 'replace', flow: f }), insertArgs(f).join(' '))
      t.equal(batchLine({ op: 'refresh', flow: f }), refreshArgs(f).join(' '))
      t.equal(batchLine({ op: 'delete', flow: f }), deleteArgs(f).join(' '))
    }
  },
)

t.test(
  'origDst: the ORIGINAL destination without a parse, as parseConntrackRow reads it',
  async t => {
    t.equal(origDst(EV), '10.77.0.100')
    t.equal(origDst(LIST), parseConntrackRow(LIST)?.flow.dst)
    t.equal(
      origDst(
        '[NEW] tcp      6 120 SYN_SENT src=2001:db8::1 dst=fd00::100 sport=1 dport=80',
      ),
      'fd00::100',
    )
    t.equal(origDst('[NEW] unknown'), undefined, 'none: parsed in full')
    t.equal(origDst('x dst=10.0.0.1'), '10.0.0.1', 'at the end of the line')
  },
)

t.test('heartbeatd membership lines', async t => {
  t.same(parseMembershipLine('NODE m2 alive'), {
    kind: 'node',
    node: 'm2',
    alive: true,
  })
  t.same(parseMembershipLine('ACTIVE none'), {
    kind: 'active',
    node: undefined,
  })
  t.same(parseMembershipLine('ACTIVE m1'), { kind: 'active', node: 'm1' })
  t.equal(parseMembershipLine('SYNC'), undefined)
})
