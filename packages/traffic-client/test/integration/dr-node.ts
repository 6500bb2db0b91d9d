// The node side of direct routing: the check names each sysctl, the set-up
// fixes it; then for real in a namespace, where the misconfigured node is
// seen answering ARP for the VIP until the set-up runs.
import t from 'tap'
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkDrNode, setupDrNode } from '../../src/dr-node.js'
import { needsRoot, NetnsLab } from '@has/test-support'
import { run } from '@has/test-support'

function sysTree(values: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'dr-node-'))
  for (const [k, v] of Object.entries(values)) {
    const parts = k.split('.')
    mkdirSync(join(root, ...parts.slice(0, -1)), { recursive: true })
    writeFileSync(join(root, ...parts), `${v}\n`)
  }
  return root
}

const ipWith =
  (addrs: Record<string, string[]>, calls: string[][] = []) =>
  async (args: readonly string[]) => {
    calls.push([...args])
    if (args[0] === '-j') {
      const out = Object.entries(addrs).map(([ifname, l]) => ({
        ifname,
        addr_info: l.map(local => ({ local })),
      }))
      return { code: 0, stdout: JSON.stringify(out), stderr: '' }
    }
    return { code: 0, stdout: '', stderr: '' }
  }

const defaults = {
  'net.ipv4.conf.all.arp_ignore': '0',
  'net.ipv4.conf.all.arp_announce': '0',
  'net.ipv4.conf.eth0.arp_ignore': '0',
  'net.ipv4.conf.eth0.arp_announce': '0',
  'net.ipv4.conf.lo.arp_ignore': '0',
}

t.test('check: each problem named, sysctls by name', async t => {
  const root = sysTree(defaults)
  const p = await checkDrNode(['10.9.1.100'], {
    sysctlRoot: root,
    ip: ipWith({ lo: ['127.0.0.1'], eth0: ['10.9.1.21'] }),
  })
  t.same(
    p.map(x => x.what),
    [
      'address',
      'net.ipv4.conf.all.arp_ignore',
      'net.ipv4.conf.all.arp_announce',
    ],
  )
  t.match(p[0]?.message, /VIP 10\.9\.1\.100 is not on lo/)
  t.match(
    p[1]?.message,
    /net\.ipv4\.conf\.all\.arp_ignore .* is 0: eth0 answers ARP/,
  )
  // The kernel takes max(all, interface): a per-interface 1 is enough.
  const perDev = sysTree({
    ...defaults,
    'net.ipv4.conf.eth0.arp_ignore': '1',
    'net.ipv4.conf.eth0.arp_announce': '2',
  })
  t.same(
    await checkDrNode(['10.9.1.100'], {
      sysctlRoot: perDev,
      ip: ipWith({ lo: ['10.9.1.100'], eth0: ['10.9.1.21'] }),
    }),
    [],
  )
  const twice = await checkDrNode(['10.9.1.100'], {
    sysctlRoot: perDev,
    ip: ipWith({ lo: ['10.9.1.100'], eth0: ['10.9.1.100'] }),
  })
  t.match(twice[0]?.message, /also on eth0/)
  // IPv6: no ARP sysctls; the VIP on lo is all.
  t.same(
    await checkDrNode(['fd09::100'], {
      sysctlRoot: root,
      ip: ipWith({ lo: ['fd09::100'] }),
    }),
    [],
  )
  t.match(
    (await checkDrNode(['nope'], { sysctlRoot: root, ip: ipWith({}) }))[0]
      ?.message,
    /not an IP address/,
  )
})

t.test(
  'set-up writes the sysctls and adds the VIPs to lo (IPv6 with nodad)',
  async t => {
    const root = sysTree(defaults)
    const calls: string[][] = []
    await setupDrNode(['10.9.1.100', 'fd09::100'], {
      sysctlRoot: root,
      ip: ipWith({ lo: [] }, calls),
    })
    t.equal(
      readFileSync(join(root, 'net/ipv4/conf/all/arp_ignore'), 'utf8'),
      '1\n',
    )
    t.equal(
      readFileSync(join(root, 'net/ipv4/conf/all/arp_announce'), 'utf8'),
      '2\n',
    )
    t.same(
      calls.filter(c => c[0] !== '-j'),
      [
        ['addr', 'add', '10.9.1.100/32', 'dev', 'lo'],
        ['-6', 'addr', 'add', 'fd09::100/128', 'dev', 'lo', 'nodad'],
      ],
    )
  },
)

t.test(
  'kernel: a node answering ARP for the VIP is refused by name, and set-up silences it',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('drn')
    t.teardown(() => lab.cleanup())
    const ns = await lab.lan([
      ['client', '10.9.1.1/24'],
      ['node', '10.9.1.21/24'],
    ] as const)
    await lab.ip(ns.node, ['addr', 'add', '10.9.1.100/32', 'dev', 'lo'])
    const arp = () =>
      run('ip', [
        'netns',
        'exec',
        ns.client,
        'arping',
        '-q',
        '-c',
        '1',
        '-w',
        '2',
        '-i',
        'eth0',
        '10.9.1.100',
      ])
    t.equal(
      (await arp()).code,
      0,
      'misconfigured: the node answers ARP for the VIP',
    )
    const bin = (args: string[]) =>
      run('ip', [
        'netns',
        'exec',
        ns.node,
        process.execPath,
        join(import.meta.dirname, '..', '..', 'dist', 'bin.js'),
        ...args,
      ])
    const bad = await bin(['dr-node', '10.9.1.100'])
    t.equal(bad.code, 1)
    t.match(
      bad.stderr,
      /TC_ERR_DR_NODE: .*net\.ipv4\.conf\.all\.arp_ignore .*is 0/,
    )
    t.match(bad.stderr, /net\.ipv4\.conf\.all\.arp_announce/)
    const fixed = await bin(['dr-node', '--setup', '10.9.1.100'])
    t.equal(fixed.code, 0, fixed.stderr)
    t.match(fixed.stdout, 'direct routing ready for 10.9.1.100')
    t.not((await arp()).code, 0, 'set up: no ARP answer for the VIP')
  },
)
