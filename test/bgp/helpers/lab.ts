// The N-active master lab (root only), in namespaces made here and deleted
// in cleanup: a client behind a router running BIRD with ECMP
// (fib_multipath_hash_policy=1, `merge paths`), and on one LAN behind the
// router up to three masters (BIRD with BFD + traffic-manager
// `dataplane nftables-dr` + vip-announcer) and four direct-routing nodes
// (dr-peer server + traffic-client). Traffic stays inside these namespaces.
import { mkdirSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeProcfsFixture } from '@has/traffic-client'
import { NetnsLab, sh } from '@has/test-support'
import {
  binPath,
  run,
  spawnDaemon,
  spawnScript,
  track,
  type Proc,
} from '@has/test-support'

export const PEER = fileURLToPath(
  new URL(
    '../../../packages/traffic-manager/test/dr/fixtures/dr-peer.mjs',
    import.meta.url,
  ),
)
export const PROBE = fileURLToPath(
  new URL('../fixtures/probe.mjs', import.meta.url),
)

export const VIP = '10.9.0.100'
export const CLIENT = { addr: '10.9.1.2', gw: '10.9.1.1' }
export const ROUTER = '10.9.2.1'
export const MASTERS = ['10.9.2.11', '10.9.2.12', '10.9.2.13'] as const
export const NODES = [
  '10.9.2.21',
  '10.9.2.22',
  '10.9.2.23',
  '10.9.2.24',
] as const
export type M = 'm1' | 'm2' | 'm3'
export type N = 'n1' | 'n2' | 'n3' | 'n4'
export const MS: readonly M[] = ['m1', 'm2', 'm3']
export const NS: readonly N[] = ['n1', 'n2', 'n3', 'n4']
const KEY = 'bgp-lab-shared-report-key-01'

/** BFD as the issue asks: 100 ms, multiplier 3 (300 ms detection). */
const BFD = 'min rx interval 100 ms; min tx interval 100 ms; multiplier 3;'

export function routerBird(masters: readonly string[]): string {
  return [
    `router id ${ROUTER};`,
    'protocol device { scan time 10; }',
    `protocol bfd { interface "eth0" { ${BFD} }; }`,
    // ECMP into the kernel: equal BGP paths from the masters become one multipath route.
    'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
    'template bgp master {',
    `  local ${ROUTER} as 65000;`,
    '  bfd on; graceful restart off; hold time 9;',
    // Retry soon after a failure (BIRD waits 60-300 s by default): a master that returns is peered again within seconds.
    '  connect retry time 1; error wait time 1, 5;',
    '  ipv4 { import all; export none; };',
    '}',
    ...masters.map(
      (a, i) =>
        `protocol bgp m${i + 1} from master { neighbor ${a} as 65010; }`,
    ),
    '',
  ].join('\n')
}

export function masterBird(addr: string): string {
  return [
    `router id ${addr};`,
    'protocol device { scan time 10; }',
    `protocol bfd { interface "eth0" { ${BFD} }; }`,
    // Starts disabled: only vip-announcer enables it, once this master is healthy.
    `protocol static vip4 { disabled; ipv4; route ${VIP}/32 blackhole; }`,
    'protocol bgp uplink {',
    `  local ${addr} as 65010; neighbor ${ROUTER} as 65000;`,
    '  bfd on; graceful restart off; hold time 9;',
    // Retry soon after a failure (BIRD waits 60-300 s by default): a master that returns is peered again within seconds.
    '  connect retry time 1; error wait time 1, 5;',
    '  ipv4 { import none; export where proto = "vip4"; next hop self; };',
    '}',
    '',
  ].join('\n')
}

export interface Master {
  bird?: Proc
  tm?: Proc
  va?: Proc
}

export class BgpLab {
  readonly lab = new NetnsLab('bgp')
  ns!: Record<'client' | 'rt' | M | N, string>
  readonly procs: Proc[] = []
  readonly masters: Record<M, Master> = { m1: {}, m2: {}, m3: {} }
  constructor(readonly dir: string) {}

  keep(p: Proc): Proc {
    this.procs.push(p)
    return p
  }

  async setUp(): Promise<void> {
    const lan = await this.lab.lan([
      ['rt', `${ROUTER}/24`],
      ...MS.map((m, i) => [m, `${MASTERS[i]}/24`] as const),
      ...NS.map((n, i) => [n, `${NODES[i]}/24`] as const),
    ] as const)
    // A switch floods frames for a MAC it lost (a crashed master's port); a
    // real NIC drops them, but veth hands them to netdev ingress, where the
    // other masters' direct-routing rules would forward them and hide the
    // crash. No unknown-unicast flooding to the masters' ports (p2..p4).
    for (const port of ['p2', 'p3', 'p4'])
      await this.lab.ip(lan.rt.replace(/-rt$/, '-br'), [
        'link',
        'set',
        'dev',
        port,
        'type',
        'bridge_slave',
        'flood',
        'off',
      ])
    const client = await this.lab.add('cl')
    this.ns = { ...lan, client } as BgpLab['ns']
    await this.lab.veth(
      { ns: client, ifname: 'eth0', addr: `${CLIENT.addr}/24` },
      { ns: lan.rt, ifname: 'eth1', addr: `${CLIENT.gw}/24` },
    )
    await this.lab.ip(client, ['route', 'add', 'default', 'via', CLIENT.gw])
    for (const s of [
      'net.ipv4.ip_forward=1',
      'net.ipv4.fib_multipath_hash_policy=1',
    ])
      await this.lab.exec(lan.rt, 'sysctl', ['-qw', s])
    for (const n of NS) {
      await this.lab.ip(this.ns[n], ['route', 'add', 'default', 'via', ROUTER])
      const r = await run('ip', [
        'netns',
        'exec',
        this.ns[n],
        process.execPath,
        binPath('traffic-client'),
        'dr-node',
        '--setup',
        VIP,
      ])
      if (r.code !== 0) throw new Error(`dr-node --setup in ${n}: ${r.stderr}`)
    }
    writeFileSync(
      join(this.dir, 'tmd.conf'),
      [
        ...MASTERS.map((a, i) => `master${i + 1} ${a}`),
        ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
        'port 7070',
        'listen 0.0.0.0',
        'timeout 1000',
        `key ${KEY}`,
        'shutdown-deadline 1s',
        `virtual ${VIP}:80`,
        '    dataplane nftables-dr',
        ...NODES.map(a => `    node ${a}:80`),
        '',
      ].join('\n'),
    )
  }

  bird(where: 'rt' | M, conf: string): Proc {
    const d = join(this.dir, where)
    mkdirSync(d, { recursive: true })
    writeFileSync(join(d, 'bird.conf'), conf)
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns[where],
        'bird',
        '-f',
        '-c',
        join(d, 'bird.conf'),
        '-s',
        this.birdSocket(where),
        '-P',
        join(d, 'bird.pid'),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    return this.keep(track(child))
  }

  birdSocket(where: 'rt' | M): string {
    return join(this.dir, where, 'bird.ctl')
  }

  tmSocket(m: M): string {
    return join(this.dir, m, 'tm.sock')
  }

  vaSocket(m: M): string {
    return join(this.dir, m, 'va.sock')
  }

  async router(): Promise<void> {
    this.bird('rt', routerBird(MASTERS))
    await this.until(
      'router BIRD socket',
      async () =>
        (await run('birdc', ['-s', this.birdSocket('rt'), 'show', 'status']))
          .code === 0,
    )
  }

  /** Starts a master's BIRD, traffic-manager and vip-announcer. */
  async startMaster(
    m: M,
    opts: { settle?: string; drain?: string } = {},
  ): Promise<Master> {
    const i = MS.indexOf(m)
    const d = join(this.dir, m)
    mkdirSync(d, { recursive: true })
    const bird = this.bird(m, masterBird(MASTERS[i] as string))
    const tm = this.keep(
      spawnDaemon(
        'traffic-manager',
        ['--config', join(this.dir, 'tmd.conf'), '--control', this.tmSocket(m)],
        { netns: this.ns[m] },
      ),
    )
    writeFileSync(
      join(d, 'va.conf'),
      [
        `bird-socket ${this.birdSocket(m)}`,
        'protocol vip4',
        `traffic-manager ${this.tmSocket(m)}`,
        `service ${VIP}:80`,
        'check-interval 25ms',
        'check-timeout 3s',
        'bird-timeout 5s',
        `settle ${opts.settle ?? '1s'}`,
        `drain ${opts.drain ?? '1s'}`,
        '',
      ].join('\n'),
    )
    const va = this.keep(
      spawnDaemon(
        'vip-announcer',
        ['--config', join(d, 'va.conf'), '--control', this.vaSocket(m)],
        { netns: this.ns[m] },
      ),
    )
    this.masters[m] = { bird, tm, va }
    return this.masters[m]
  }

  async startNode(n: N): Promise<void> {
    const i = NS.indexOf(n)
    const d = join(this.dir, n)
    mkdirSync(d, { recursive: true })
    const web = this.keep(
      spawnScript(PEER, ['server', n, '80'], { netns: this.ns[n] }),
    )
    await web.waitLog(l => l.msg === 'ready', 10_000)
    // Equal capacity everywhere: every master derives the same weights, so the same Maglev table.
    writeProcfsFixture(join(d, 'proc'), {
      bogomips: 4000,
      cpus: 2,
      memTotalMB: 4096,
      memFreeMB: 3000,
      idleShare: 0.9,
    })
    writeFileSync(
      join(d, 'tcd.conf'),
      [
        ...MASTERS.map((a, j) => `master${j + 1} ${a}`),
        'port 7070',
        'updates 200',
        `key ${KEY}`,
        `node ${NODES[i]}`,
        '',
      ].join('\n'),
    )
    this.keep(
      spawnDaemon(
        'traffic-client',
        [
          '--config',
          join(d, 'tcd.conf'),
          '--procfs',
          join(d, 'proc'),
          '--control',
          join(d, 'tc.sock'),
        ],
        { netns: this.ns[n] },
      ),
    )
  }

  /** Next hops of the VIP route in the router's kernel (sorted). */
  async nextHops(): Promise<string[]> {
    const out = await this.lab.ip(this.ns.rt, [
      '-j',
      'route',
      'show',
      `${VIP}/32`,
    ])
    const routes = JSON.parse(out || '[]') as {
      gateway?: string
      nexthops?: { gateway: string }[]
    }[]
    return routes
      .flatMap(r =>
        r.nexthops
          ? r.nexthops.map(h => h.gateway)
          : r.gateway
            ? [r.gateway]
            : [],
      )
      .sort()
  }

  async waitHops(want: readonly string[], timeoutMs = 20_000): Promise<void> {
    const w = [...want].sort().join(',')
    await this.until(
      `router's VIP route via [${w}]`,
      async () => (await this.nextHops()).join(',') === w,
      timeoutMs,
    )
  }

  /** Polls `pred` every 20 ms up to `timeoutMs`; the error names what was awaited. */
  async until(
    what: string,
    pred: () => Promise<boolean>,
    timeoutMs = 20_000,
  ): Promise<void> {
    for (let i = 0; i < timeoutMs / 20; i++) {
      if (await pred()) return
      await new Promise(r => setTimeout(r, 20))
    }
    throw new Error(`not within ${timeoutMs} ms: ${what}`)
  }

  /** Kills a master like a power loss: its link goes first, then every process (SIGKILL). */
  async crash(m: M): Promise<void> {
    await this.lab.ip(this.ns[m], ['link', 'set', 'eth0', 'down'])
    const x = this.masters[m]
    await Promise.all(
      [x.va, x.tm, x.bird].flatMap(p => (p ? [p.stop('SIGKILL')] : [])),
    )
  }

  async linkUp(m: M): Promise<void> {
    await this.lab.ip(this.ns[m], ['link', 'set', 'eth0', 'up'])
  }

  /** One HTTP request over a new connection from the client namespace. */
  async curl(): Promise<string> {
    return (
      await sh('ip', [
        'netns',
        'exec',
        this.ns.client,
        'curl',
        '-s',
        '--max-time',
        '5',
        `http://${VIP}/`,
      ])
    ).trim()
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) await p.stop('SIGKILL').catch(() => undefined)
    await this.lab.cleanup()
  }
}

/** `count` long-lived streams from the client; round() sends a line on each and names the node that answered (null: broken). */
export async function streams(
  lab: BgpLab,
  count: number,
): Promise<{ p: Proc; round: () => Promise<(string | null)[]> }> {
  const p = lab.keep(
    spawnScript(PEER, ['client', VIP, '80', String(count)], {
      netns: lab.ns.client,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  )
  await p.waitLog(l => l.msg === 'ready', 30_000)
  let n = 0
  return {
    p,
    round: async () => {
      const want = ++n
      p.child.stdin?.write('round\n')
      const l = await p.waitLog(l => l.round === want, 30_000)
      return l.nodes as (string | null)[]
    },
  }
}

/**
 * New connections from the client every 10 ms for `ms`, each given
 * `timeoutMs`. Resolves once the probe runs (node's start-up is slow on a
 * loaded machine), with `done`: every failed attempt's time (ms since the
 * probe started) and the number of attempts.
 */
export async function probe(
  lab: BgpLab,
  ms: number,
  timeoutMs = 150,
): Promise<{
  started: number
  done: Promise<{ failures: number[]; attempts: number }>
}> {
  const p = lab.keep(
    spawnScript(PROBE, [VIP, '80', String(ms), String(timeoutMs)], {
      netns: lab.ns.client,
    }),
  )
  await p.waitLog(l => l.msg === 'started', 20_000)
  const started = Date.now()
  const done = p
    .waitLog(l => l.msg === 'done', ms + 20_000)
    .then(l => ({
      failures: l.failures as number[],
      attempts: l.attempts as number,
    }))
  return { started, done }
}
