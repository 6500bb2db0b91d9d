import t from 'tap'
import { execFile } from 'node:child_process'
import { accessSync, constants, readFileSync } from 'node:fs'
import { announceCommands, MAX_NS_TARGETS, NA_SENDER } from '../src/announce.js'

const addresses = [
  { family: 4 as const, address: '10.0.0.2', prefixlen: 24, scope: 'global' },
  { family: 4 as const, address: '10.0.0.2', prefixlen: 24, scope: 'global' },
  { family: 6 as const, address: 'fe80::2', prefixlen: 64, scope: 'link' },
  {
    family: 6 as const,
    address: '2001:db8::2',
    prefixlen: 64,
    scope: 'global',
  },
  { family: 6 as const, address: 'fd00:1::2', prefixlen: 64, scope: 'global' },
  {
    family: 6 as const,
    address: '2001:db8::7',
    prefixlen: 64,
    scope: 'global',
    dadfailed: true as const,
  },
]

t.test(
  'gratuitous ARP per IPv4 address, one unsolicited-NA run for the global/ULA IPv6 ones',
  async t => {
    const cmds = announceCommands({
      dev: 'eth1',
      addresses,
      ipv6Targets: ['2001:db8::1'],
      ipv4: true,
      ipv6: true,
    })
    t.same(
      cmds,
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
        ['perl', NA_SENDER, 'eth1', '2001:db8::2', 'fd00:1::2'],
      ],
      'link-local and dadfailed addresses are not announced; targets are not needed',
    )
    t.same(
      announceCommands({
        dev: 'eth1',
        addresses: addresses.slice(0, 3),
        ipv6Targets: [],
        ipv4: false,
        ipv6: true,
      }),
      [],
      'no global IPv6 address: no NA run',
    )
  },
)

t.test('without perl: NS per IPv6 neighbour (ndisc6)', async t => {
  const cmds = announceCommands({
    dev: 'eth1',
    addresses: addresses.slice(0, 4),
    ipv6Targets: ['2001:db8::1', 'fe80::1', '2001:db8::2', '2001:db8::1'],
    ipv4: false,
    ipv6: true,
    ipv6Announce: 'ns',
  })
  t.same(cmds, [
    [
      'ndisc6',
      '-q',
      '-r',
      '1',
      '-w',
      '1',
      '-s',
      '2001:db8::2',
      '2001:db8::1',
      'eth1',
    ],
    [
      'ndisc6',
      '-q',
      '-r',
      '1',
      '-w',
      '1',
      '-s',
      '2001:db8::2',
      'fe80::1',
      'eth1',
    ],
  ])
})

t.test('families can be turned off; NS targets are bounded', async t => {
  t.same(
    announceCommands({
      dev: 'e',
      addresses,
      ipv6Targets: ['2001:db8::1'],
      ipv4: false,
      ipv6: false,
    }),
    [],
  )
  const many = Array.from({ length: 40 }, (_, i) => `2001:db8::${i + 10}`)
  const one6 = addresses.slice(0, 4)
  t.equal(
    announceCommands({
      dev: 'e',
      addresses: one6,
      ipv6Targets: many,
      ipv4: false,
      ipv6: true,
      ipv6Announce: 'ns',
    }).length,
    MAX_NS_TARGETS,
  )
})

// The helper itself is exercised on the wire by
// integration/failover-different.ts; here: it ships, compiles, and
// refuses bad input with a reason and without needing privileges.
const run = (args: string[]) =>
  new Promise<{ code: number; stderr: string }>(resolve => {
    execFile('perl', args, (err, _o, stderr) =>
      resolve({
        code: err ? Number((err as { code?: number }).code ?? 1) : 0,
        stderr,
      }),
    )
  })

t.test('libexec/erd-na ships with the package and compiles', async t => {
  accessSync(NA_SENDER, constants.R_OK)
  const files = (
    JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { files: string[] }
  ).files
  t.ok(files.includes('libexec'), 'package.json files lists libexec')
  const c = await run(['-c', NA_SENDER])
  t.equal(c.code, 0, c.stderr)
  t.match(c.stderr, /syntax OK/)
})

t.test(
  'libexec/erd-na: usage and interface errors name the problem',
  async t => {
    const usage = await run([NA_SENDER])
    t.equal(usage.code, 2)
    t.match(usage.stderr, /usage: erd-na DEV ADDRESS/)
    const nodev = await run([NA_SENDER, 'nosuch-erd0', '2001:db8::2'])
    t.equal(nodev.code, 2)
    t.match(nodev.stderr, /no interface "nosuch-erd0"/)
    // Checked before any socket is opened, so this runs unprivileged.
    const bad = await run([NA_SENDER, 'lo', 'not-an-address'])
    t.equal(bad.code, 1)
    t.match(bad.stderr, /bad IPv6 address "not-an-address"/)
  },
)
