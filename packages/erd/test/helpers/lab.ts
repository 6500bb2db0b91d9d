// The failover lab (thesis 3.24.9): a node with two NICs on two switches
// (lan A, lan B, joined by a trunk) and a server on switch A. Taking the
// node's port on switch A down is the "Ethernet card is unresponsive"
// experiment (4.8.1.2). Used by the failover test and the benchmark's
// shape; everything lives in namespaces this test creates and deletes.

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { NetnsLab } from '@has/test-support'
import { track, type Proc } from '@has/test-support'

export interface Lab {
  readonly lab: NetnsLab
  readonly node: string
  readonly lanA: string
  readonly lanB: string
  readonly srv: string
  /** The node's addresses on eth0 / eth1 (equal in the same-IP setup). */
  readonly ip4: [string, string]
  readonly ip6: [string, string]
  readonly server4: string
  readonly server6: string
}

export async function buildLab(
  tag: string,
  sameAddress: boolean,
): Promise<Lab> {
  const lab = new NetnsLab(tag)
  const [node, lanA, lanB, srv] = [
    await lab.add('node'),
    await lab.add('lana'),
    await lab.add('lanb'),
    await lab.add('srv'),
  ]
  await lab.veth({ ns: node, ifname: 'eth0' }, { ns: lanA, ifname: 'p0' })
  await lab.veth({ ns: node, ifname: 'eth1' }, { ns: lanB, ifname: 'p1' })
  await lab.veth({ ns: lanA, ifname: 'trunk' }, { ns: lanB, ifname: 'trunk' })
  await lab.veth(
    { ns: srv, ifname: 'eth0', addr: '10.77.0.1/24' },
    { ns: lanA, ifname: 'ps' },
  )
  await lab.ip(srv, [
    '-6',
    'addr',
    'add',
    '2001:db8:77::1/64',
    'dev',
    'eth0',
    'nodad',
  ])
  for (const [ns, ports] of [
    [lanA, ['p0', 'trunk', 'ps']],
    [lanB, ['p1', 'trunk']],
  ] as const) {
    await lab.bridge(ns)
    for (const p of ports) await lab.ip(ns, ['link', 'set', p, 'master', 'br0'])
  }
  const ip4: [string, string] = sameAddress
    ? ['10.77.0.2', '10.77.0.2']
    : ['10.77.0.2', '10.77.0.3']
  const ip6: [string, string] = sameAddress
    ? ['2001:db8:77::2', '2001:db8:77::2']
    : ['2001:db8:77::2', '2001:db8:77::3']
  for (const [i, dev] of (['eth0', 'eth1'] as const).entries()) {
    // The thesis gives both ports one MAC; the link must be down to set it.
    if (sameAddress) {
      await lab.ip(node, ['link', 'set', dev, 'down'])
      await lab.ip(node, ['link', 'set', dev, 'address', '02:00:00:77:00:02'])
      await lab.ip(node, ['link', 'set', dev, 'up'])
    }
    await lab.ip(node, ['addr', 'add', `${ip4[i]}/24`, 'dev', dev])
    // Same address twice on one LAN: DAD would reject the second copy.
    await lab.ip(node, [
      '-6',
      'addr',
      'add',
      `${ip6[i]}/64`,
      'dev',
      dev,
      'nodad',
    ])
  }
  // A routed prefix via the server, so a gateway route is protected too.
  await lab.ip(node, [
    'route',
    'add',
    '10.88.0.0/16',
    'via',
    '10.77.0.1',
    'dev',
    'eth0',
  ])
  return {
    lab,
    node,
    lanA,
    lanB,
    srv,
    ip4,
    ip6,
    server4: '10.77.0.1',
    server6: '2001:db8:77::1',
  }
}

const fixture = (f: string): string =>
  fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url))

/** Runs a fixture script inside a namespace; the test stops it by PID. */
export function nsNode(
  ns: string,
  script: string,
  args: readonly string[],
): Proc {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, fixture(script), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  return track(child)
}

/** Interface counters inside a namespace. */
export async function txPackets(lab: Lab, dev: string): Promise<number> {
  return Number(
    (
      await lab.lab.exec(lab.node, 'cat', [
        `/sys/class/net/${dev}/statistics/tx_packets`,
      ])
    ).trim(),
  )
}

export async function routeDev(lab: Lab, dst: string): Promise<string> {
  const out = await lab.lab.ip(lab.node, ['-j', 'route', 'get', dst])
  return (JSON.parse(out) as { dev: string }[])[0]?.dev ?? ''
}

export async function macOf(
  lab: Lab,
  ns: string,
  dev: string,
): Promise<string> {
  return (
    (
      JSON.parse(await lab.lab.ip(ns, ['-j', 'link', 'show', dev])) as {
        address: string
      }[]
    )[0]?.address ?? ''
  )
}

export interface NeighEntry {
  readonly lladdr?: string
  readonly state: readonly string[]
}

/** `ip -6 neigh show <addr>` in `ns`: the entry, if any. */
export async function neigh6(
  lab: Lab,
  ns: string,
  addr: string,
): Promise<NeighEntry | undefined> {
  const e = (
    JSON.parse(await lab.lab.ip(ns, ['-j', '-6', 'neigh', 'show', addr])) as {
      lladdr?: string
      state?: string[]
    }[]
  )[0]
  return (
    e && { ...(e.lladdr ? { lladdr: e.lladdr } : {}), state: e.state ?? [] }
  )
}

/**
 * Reads `get` until `ok` holds or `ms` pass (a bound on a hang, not a
 * timing claim); returns the last value read, for the assertion.
 */
export async function pollUntil<T>(
  get: () => Promise<T>,
  ok: (v: T) => boolean,
  ms: number,
  every = 50,
): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await get()
    if (ok(v) || Date.now() >= end) return v
    await new Promise(r => setTimeout(r, every))
  }
}
