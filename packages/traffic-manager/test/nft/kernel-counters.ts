import t from 'tap'
import {
  activeByBackend,
  parseConntrackLine,
  parseNftCounters,
} from '../../src/nft/kernel-counters.js'
import { hasNetAdmin } from '../../src/nft/kernel-exec.js'

t.test('named counters from nft -j', async t => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { table: { family: 'ip', name: 'x' } },
      {
        counter: {
          family: 'ip',
          name: 'c_a',
          table: 'x',
          packets: 3,
          bytes: 180,
        },
      },
    ],
  })
  t.same([...parseNftCounters(json)], [['c_a', { packets: 3, bytes: 180 }]])
  t.equal(parseNftCounters('not json').size, 0)
})

const L1 =
  'ipv4     2 tcp      6 431997 ESTABLISHED src=10.9.0.1 dst=10.9.0.100 sport=59788 dport=80 src=10.9.0.22 dst=10.9.0.100 sport=8080 dport=59788 [ASSURED] mark=0 use=1'
const L2 =
  'tcp      6 59 TIME_WAIT src=10.9.0.1 dst=10.9.0.100 sport=59790 dport=80 src=10.9.0.22 dst=10.9.0.100 sport=8080 dport=59790 [ASSURED] mark=0 use=1'

t.test('conntrack lines: both tuples and the state', async t => {
  t.same(parseConntrackLine(L1), {
    proto: 'tcp',
    state: 'ESTABLISHED',
    origSrc: '10.9.0.1',
    origDst: '10.9.0.100',
    origSport: 59788,
    origDport: 80,
    replySrc: '10.9.0.22',
    replyDst: '10.9.0.100',
    replySport: 8080,
    replyDport: 59788,
  })
  t.equal(
    parseConntrackLine(
      'conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.',
    ),
    undefined,
  )
  const active = activeByBackend([L1, L2, ''].join('\n'), {
    address: '10.9.0.100',
    port: 80,
  })
  t.same([...active], [['10.9.0.22|8080', 1]])
})

t.test('CAP_NET_ADMIN probe reads CapEff bit 12', async t => {
  t.equal(hasNetAdmin('Name: x\nCapEff:\t000001ffffffffff\n'), true)
  t.equal(hasNetAdmin('CapEff:\t0000000000000000\n'), false)
  t.equal(hasNetAdmin('CapEff:\t0000000000001000\n'), true)
})
