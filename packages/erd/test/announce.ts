import t from 'tap'
import { announceCommands, MAX_NS_TARGETS } from '../src/announce.js'

const addresses = [
  { family: 4 as const, address: '10.0.0.2', prefixlen: 24, scope: 'global' },
  { family: 4 as const, address: '10.0.0.2', prefixlen: 24, scope: 'global' },
  { family: 6 as const, address: 'fe80::2', prefixlen: 64, scope: 'link' },
  { family: 6 as const, address: '2001:db8::2', prefixlen: 64, scope: 'global' },
]

t.test('gratuitous ARP per IPv4 address, NS per IPv6 neighbour', async t => {
  const cmds = announceCommands({ dev: 'eth1', addresses, ipv6Targets: ['2001:db8::1', 'fe80::1', '2001:db8::2'], ipv4: true, ipv6: true })
  t.same(cmds, [
    ['arping', '-q', '-U', '-c', '1', '-w', '0.02', '-i', 'eth1', '-S', '10.0.0.2', '10.0.0.2'],
    ['ndisc6', '-q', '-r', '1', '-w', '1', '-s', '2001:db8::2', '2001:db8::1', 'eth1'],
    ['ndisc6', '-q', '-r', '1', '-w', '1', '-s', '2001:db8::2', 'fe80::1', 'eth1'],
  ])
})

t.test('families can be turned off; targets are bounded', async t => {
  t.same(announceCommands({ dev: 'e', addresses, ipv6Targets: ['2001:db8::1'], ipv4: false, ipv6: false }), [])
  const many = Array.from({ length: 40 }, (_, i) => `2001:db8::${i + 10}`)
  t.equal(announceCommands({ dev: 'e', addresses, ipv6Targets: many, ipv4: false, ipv6: true }).length, MAX_NS_TARGETS)
})
