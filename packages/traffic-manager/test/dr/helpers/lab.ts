// The direct-routing lab: a client, two masters and up to three nodes on
// one bridge, in namespaces this test makes and deletes. Nodes hold the VIP
// on lo with the ARP/ND sysctls direct routing needs; the masters run the
// data plane in-process with nft aimed at their namespace.
import { fileURLToPath } from 'node:url'
import { silentLogger } from '@has/daemon-kit'
import { NetnsLab, sh } from '@has/test-support'
import { spawnScript, type Proc } from '@has/test-support'
import { execProgram, type Exec } from '../../../src/nft/kernel-exec.js'
import { openDrDataPlane } from '../../../src/nft/dr-data-plane.js'
import type {
  Backend,
  DataPlane,
  VirtualServiceSpec,
} from '../../../src/data-plane.js'

export const PEER = fileURLToPath(
  new URL('../fixtures/dr-peer.mjs', import.meta.url),
)

export interface DrLabAddrs {
  readonly family: 4 | 6
  readonly vip: string
  readonly plen: number
  readonly client: string
  readonly a: string
  readonly b: string
  readonly nodes: readonly string[]
}

export const V4: DrLabAddrs = {
  family: 4,
  vip: '10.9.0.100',
  plen: 24,
  client: '10.9.0.1',
  a: '10.9.0.2',
  b: '10.9.0.3',
  nodes: ['10.9.0.21', '10.9.0.22', '10.9.0.23'],
}

export const V6: DrLabAddrs = {
  family: 6,
  vip: 'fd09::100',
  plen: 64,
  client: 'fd09::1',
  a: 'fd09::2',
  b: 'fd09::3',
  nodes: ['fd09::21', 'fd09::22', 'fd09::23'],
}

export const nsExec =
  (ns: string): Exec =>
  (cmd, args, stdin) =>
    execProgram('ip', ['netns', 'exec', ns, cmd, ...args], stdin)

export class DrLab {
  readonly lab: NetnsLab
  ns!: Record<'client' | 'a' | 'b' | 'n1' | 'n2' | 'n3', string>
  readonly procs: Proc[] = []
  readonly spec: VirtualServiceSpec

  constructor(
    readonly addrs: DrLabAddrs,
    tag: string,
  ) {
    this.lab = new NetnsLab(tag)
    const host = addrs.family === 6 ? `[${addrs.vip}]` : addrs.vip
    this.spec = {
      name: `${host}:80`,
      address: addrs.vip,
      port: 80,
      family: addrs.family,
    }
  }

  cidr(addr: string): string {
    return `${addr}/${this.addrs.plen}`
  }

  /** `nodeSide false`: the test sets the nodes up itself (traffic-client dr-node). */
  async setUp(nodeSide = true): Promise<void> {
    const A = this.addrs
    this.ns = await this.lab.lan([
      ['client', this.cidr(A.client)],
      ['a', this.cidr(A.a)],
      ['b', this.cidr(A.b)],
      ['n1', this.cidr(A.nodes[0] as string)],
      ['n2', this.cidr(A.nodes[1] as string)],
      ['n3', this.cidr(A.nodes[2] as string)],
    ] as const)
    if (nodeSide)
      for (const n of ['n1', 'n2', 'n3'] as const)
        await this.nodeVip(this.ns[n])
  }

  /** The node side of direct routing, by hand (dr-node.ts checks it). */
  async nodeVip(ns: string): Promise<void> {
    const A = this.addrs
    if (A.family === 4) {
      for (const s of [
        'net.ipv4.conf.all.arp_ignore=1',
        'net.ipv4.conf.all.arp_announce=2',
      ]) {
        await this.lab.exec(ns, 'sysctl', ['-qw', s])
      }
      await this.lab.ip(ns, ['addr', 'add', `${A.vip}/32`, 'dev', 'lo'])
    } else {
      await this.lab.ip(ns, [
        '-6',
        'addr',
        'add',
        `${A.vip}/128`,
        'dev',
        'lo',
        'nodad',
      ])
    }
  }

  /** The VIP on a master's eth0, announced (gratuitous ARP / unsolicited NA). */
  async vipTo(master: 'a' | 'b', from?: 'a' | 'b'): Promise<void> {
    const A = this.addrs
    if (from)
      await this.lab.ip(this.ns[from], [
        'addr',
        'del',
        this.cidr(A.vip),
        'dev',
        'eth0',
      ])
    if (A.family === 4) {
      await this.lab.ip(this.ns[master], [
        'addr',
        'add',
        this.cidr(A.vip),
        'dev',
        'eth0',
      ])
      await this.lab
        .exec(this.ns[master], 'arping', [
          '-q',
          '-U',
          '-c',
          '1',
          '-i',
          'eth0',
          '-S',
          A.vip,
          A.vip,
        ])
        .catch(() => undefined)
    } else {
      await this.lab.ip(this.ns[master], [
        '-6',
        'addr',
        'add',
        this.cidr(A.vip),
        'dev',
        'eth0',
        'nodad',
      ])
    }
    // The client's cache may still name the old master (arping is
    // best-effort, and IPv6 has no gratuitous NA here): forget the entry,
    // as a switch port would after the announcement.
    if (from)
      await this.lab
        .ip(this.ns.client, ['neigh', 'flush', 'to', A.vip])
        .catch(() => undefined)
  }

  async dataPlane(
    master: 'a' | 'b',
    options: Record<string, string> = {},
  ): Promise<DataPlane> {
    return openDrDataPlane(this.spec, { logger: silentLogger() }, options, {
      exec: nsExec(this.ns[master]),
    })
  }

  backend(i: number, weight = 1): Backend {
    const host = this.addrs.nodes[i] as string
    return { id: host, host, port: 80, weight }
  }

  async server(n: 'n1' | 'n2' | 'n3'): Promise<Proc> {
    const p = spawnScript(PEER, ['server', n, '80'], { netns: this.ns[n] })
    this.procs.push(p)
    await p.waitLog(l => l.msg === 'ready', 10_000)
    return p
  }

  async curl(): Promise<string> {
    const host =
      this.addrs.family === 6 ? `[${this.addrs.vip}]` : this.addrs.vip
    return (
      await sh('ip', [
        'netns',
        'exec',
        this.ns.client,
        'curl',
        '-s',
        '--max-time',
        '5',
        `http://${host}/`,
      ])
    ).trim()
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) await p.stop('SIGKILL').catch(() => undefined)
    await this.lab.cleanup()
  }
}

// 200 (or n) long-lived connections from the client namespace; round()
// sends a line on each and returns the answering node per connection.
type Round = { round: number; nodes: (string | null)[] }

export async function streams(
  lab: DrLab,
  count: number,
): Promise<{ p: Proc; round: () => Promise<(string | null)[]> }> {
  const host = lab.addrs.vip
  const p = spawnScript(PEER, ['client', host, '80', String(count)], {
    netns: lab.ns.client,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  lab.procs.push(p)
  await p.waitLog(l => l.msg === 'ready', 20_000)
  let n = 0
  return {
    p,
    round: async () => {
      const want = ++n
      p.child.stdin?.write('round\n')
      const l = (await p.waitLog(
        l => l.round === want,
        20_000,
      )) as unknown as Round
      return l.nodes
    },
  }
}

export const tally = (
  nodes: readonly (string | null)[],
): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const n of nodes) out[String(n)] = (out[String(n)] ?? 0) + 1
  return out
}
