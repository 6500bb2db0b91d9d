// IPv6 VIP takeover moves neighbours at once: the IPaddr agent's unsolicited
// neighbour advertisement (Override set) must rewrite the MAC a client has
// cached for the VIP. Without it the client keeps the old owner's MAC until
// neighbour unreachability detection, which an idle client never runs.
// Two master namespaces and a client on a bridge, all made by this test.

import t from 'tap'
import { NetnsLab, needsRoot, waitFor } from '@has/test-support'
import { BUILTIN_RESOURCE_DIR, findAgent } from '../../src/config.js'

const VIP = 'fd77:3::50'

t.test('IPv6 VIP takeover: the client learns the new MAC', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('na')
  t.teardown(() => lab.cleanup())
  const ipaddr = findAgent('IPaddr', [BUILTIN_RESOURCE_DIR]) as string
  t.ok(ipaddr, 'IPaddr agent shipped')
  const { m1, m2, cl } = await lab.lan([
    ['m1', 'fd77:3::1/64'],
    ['m2', 'fd77:3::2/64'],
    ['cl', 'fd77:3::100/64'],
  ] as const)
  const mac = async (n: string): Promise<string> =>
    (await lab.exec(n, 'cat', ['/sys/class/net/eth0/address'])).trim()
  const agent = (n: string, op: string): Promise<string> =>
    lab.exec(n, 'env', [
      'HA_ARP_COUNT=3',
      'HA_ARP_INTERVAL_MS=100',
      ipaddr,
      `${VIP}/64/eth0`,
      op,
    ])
  const cached = async (): Promise<string> =>
    lab.ip(cl, ['-6', 'neigh', 'show', VIP, 'dev', 'eth0'])

  await agent(m1, 'start')
  await lab.exec(cl, 'ping', ['-6', '-n', '-c', '1', '-W', '2', VIP])
  t.match(await cached(), await mac(m1), 'the client caches master 1')

  // Master 2 takes over; master 1 releases (a graceful hand-over).
  await agent(m1, 'stop')
  await agent(m2, 'start')
  const want = await mac(m2)
  // Waits on the kernel's state: the advertisements go out over about
  // 200 ms; an idle client would otherwise keep the old MAC for ever.
  const seen = await waitFor(
    async () => {
      const c = await cached()
      return c.includes(want) && c
    },
    {
      timeoutMs: 5000,
      intervalMs: 50,
      what: `the client's neighbour cache to hold master 2's MAC ${want}`,
    },
  )
  t.match(seen, want, 'the client now caches master 2, without asking')
  await agent(m2, 'stop')
})
