// Issue 18 item 5: a node that gives the VIP away must send no announcement
// for it afterwards. The IPaddr agent announces in the background (5
// gratuitous ARPs 200 ms apart); `stop` used to remove the address and
// leave the announcer running, so after a hand-over the yielding node's
// ARPs came interleaved with the new owner's and clients followed them
// back. Two masters and a client on a bridge, all made by this test; the
// client captures the ARPs on the wire with tcpdump.

import t from 'tap'
import { spawn } from 'node:child_process'
import { NetnsLab, needsRoot, waitFor } from '@has/test-support'
import { track, type Proc } from '@has/test-support'
import { BUILTIN_RESOURCE_DIR, findAgent } from '../../src/config.js'

const VIP = '10.79.0.50'

t.test('IPaddr stop ends the announcements before the hand-over', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('ips')
  const procs: Proc[] = []
  t.teardown(async () => {
    for (const p of procs) await p.stop('SIGKILL')
    await lab.cleanup()
  })
  const ipaddr = findAgent('IPaddr', [BUILTIN_RESOURCE_DIR]) as string
  const { m1, m2, cl } = await lab.lan([
    ['m1', '10.79.0.1/24'],
    ['m2', '10.79.0.2/24'],
    ['cl', '10.79.0.100/24'],
  ] as const)
  const mac = async (n: string): Promise<string> =>
    (await lab.exec(n, 'cat', ['/sys/class/net/eth0/address'])).trim()
  const [mac1, mac2] = [await mac(m1), await mac(m2)]
  const state = t.testdir({ m1: {}, m2: {} })
  const agent = (n: string, dir: string, op: string): Promise<string> =>
    lab.exec(n, 'env', [
      `HA_RSCTMP=${state}/${dir}`,
      'HA_ARP_COUNT=5',
      'HA_ARP_INTERVAL_MS=200',
      ipaddr,
      `${VIP}/24/eth0`,
      op,
    ])

  const cap = track(
    spawn(
      'ip',
      [
        'netns',
        'exec',
        cl,
        'sh',
        '-c',
        'exec tcpdump -i eth0 -n -l -e arp 2>&1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  )
  procs.push(cap)
  await cap.waitLog(l => String(l.msg).includes('listening on'))
  // Announcements for the VIP, by sender MAC, in wire order.
  const arps = (): string[] =>
    cap.logs
      .map(l => String(l.msg))
      .filter(m => m.includes(`tell ${VIP}`) || m.includes(`is-at`))
      .map(m => (m.split(' ')[1] ?? '').replace(/,$/, ''))
  const count = (m: string): number => arps().filter(x => x === m).length
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    await waitFor(ok, { what, timeoutMs: 6000 })
  }

  await agent(m1, 'm1', 'start')
  await until('the first announcement from master 1', () => count(mac1) >= 1)
  // Hand-over while master 1's announcer is mid-sequence.
  await agent(m1, 'm1', 'stop')
  await agent(m2, 'm2', 'start')
  await until('five announcements from master 2', () => count(mac2) >= 5)
  const order = arps()
  const firstOfM2 = order.indexOf(mac2)
  t.same(
    order.slice(firstOfM2).filter(m => m === mac1),
    [],
    `no announcement from the yielding master after the new owner's first (wire order: ${order.map(m => (m === mac1 ? 'm1' : 'm2')).join(' ')})`,
  )
  t.ok(count(mac1) < 5, 'master 1 was cut short by stop')
  const present = await lab.ip(m1, ['-4', 'addr', 'show', 'dev', 'eth0'])
  t.notMatch(present, ` ${VIP}/`, 'master 1 removed the address')
  await agent(m2, 'm2', 'stop')
})
