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
/** The same cluster over IPv6: a /128 VIP, every host dual-stack. */
export const VIP6 = 'fd09::100'
export const CLIENT6 = { addr: 'fd09:1::2', gw: 'fd09:1::1' }
export const ROUTER6 = 'fd09:2::1'
export const MASTERS6 = ['fd09:2::11', 'fd09:2::12', 'fd09:2::13'] as const
export const NODES6 = [
  'fd09:2::21',
  'fd09:2::22',
  'fd09:2::23',
  'fd09:2::24',
] as const
export type M = 'm1' | 'm2' | 'm3'
export type N = 'n1' | 'n2' | 'n3' | 'n4'
export const MS: readonly M[] = ['m1', 'm2', 'm3']
export const NS: readonly N[] = ['n1', 'n2', 'n3', 'n4']
const KEY = 'bgp-lab-shared-report-key-01'

/** BFD as the issue asks: 100 ms, multiplier 3 (300 ms detection). */
const BFD = 'min rx interval 100 ms; min tx interval 100 ms; multiplier 3;'

export function routerBird(
  masters: readonly string[],
  masters6: readonly string[] = MASTERS6,
): string {
  return [
    `router id ${ROUTER};`,
    'protocol device { scan time 10; }',
    `protocol bfd { interface "eth0" { ${BFD} }; }`,
    // ECMP into the kernel: equal BGP paths from the masters become one multipath route.
    'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
    'protocol kernel { ipv6 { import none; export all; }; merge paths on; }',
    'template bgp master {',
    '  local as 65000;',
    '  bfd on; graceful restart off; hold time 9;',
    // Retry soon after a failure (BIRD waits 60-300 s by default): a master that returns is peered again within seconds.
    '  connect retry time 1; error wait time 1, 5;',
    '}',
    ...masters.map(
      (a, i) =>
        `protocol bgp m${i + 1} from master { local ${ROUTER} as 65000; neighbor ${a} as 65010; ipv4 { import all; export none; }; }`,
    ),
    // One session per family, as the example router does.
    ...masters6.map(
      (a, i) =>
        `protocol bgp m${i + 1}v6 from master { local ${ROUTER6} as 65000; neighbor ${a} as 65010; ipv6 { import all; export none; }; }`,
    ),
    '',
  ].join('\n')
}

export function masterBird(addr: string, addr6: string): string {
  const session = (name: string, local: string, peer: string, af: string) => [
    `protocol bgp ${name} {`,
    `  local ${local} as 65010; neighbor ${peer} as 65000;`,
    '  bfd on; graceful restart off; hold time 9;',
    // Retry soon after a failure (BIRD waits 60-300 s by default): a master that returns is peered again within seconds.
    '  connect retry time 1; error wait time 1, 5;',
    `  ${af} { import none; export where proto = "vip${af.slice(-1)}"; next hop self; };`,
    '}',
  ]
  return [
    `router id ${addr};`,
    'protocol device { scan time 10; }',
    `protocol bfd { interface "eth0" { ${BFD} }; }`,
    // Start disabled: only vip-announcer enables them, once this master is healthy.
    `protocol static vip4 { disabled; ipv4; route ${VIP}/32 blackhole; }`,
    `protocol static vip6 { disabled; ipv6; route ${VIP6}/128 blackhole; }`,
    ...session('uplink', addr, ROUTER, 'ipv4'),
    ...session('uplink6', addr6, ROUTER6, 'ipv6'),
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
    // The bridge floods frames for a MAC it lost (a crashed master's port)
    // to every port, as a switch does: the other masters must drop them
    // (their ingress rules match only frames for their own MAC), or they
    // would forward the dead master's flows and hide the crash.
    const six: [string, string][] = [
      [lan.rt, ROUTER6],
      ...MS.map((m, i) => [lan[m], MASTERS6[i] as string] as [string, string]),
      ...NS.map((n, i) => [lan[n], NODES6[i] as string] as [string, string]),
    ]
    // A crash takes a master's link down; Linux drops its IPv6 addresses
    // with the link unless told to keep them (a real host's network
    // manager would add them again on link up).
    for (const m of MS)
      await this.lab.exec(lan[m], 'sysctl', [
        '-qw',
        'net.ipv6.conf.eth0.keep_addr_on_down=1',
      ])
    for (const [ns, a] of six)
      await this.lab.ip(ns, [
        '-6',
        'addr',
        'add',
        `${a}/64`,
        'dev',
        'eth0',
        'nodad',
      ])
    const client = await this.lab.add('cl')
    this.ns = { ...lan, client } as BgpLab['ns']
    await this.lab.veth(
      { ns: client, ifname: 'eth0', addr: `${CLIENT.addr}/24` },
      { ns: lan.rt, ifname: 'eth1', addr: `${CLIENT.gw}/24` },
    )
    await this.lab.ip(client, [
      '-6',
      'addr',
      'add',
      `${CLIENT6.addr}/64`,
      'dev',
      'eth0',
      'nodad',
    ])
    await this.lab.ip(lan.rt, [
      '-6',
      'addr',
      'add',
      `${CLIENT6.gw}/64`,
      'dev',
      'eth1',
      'nodad',
    ])
    await this.lab.ip(client, ['route', 'add', 'default', 'via', CLIENT.gw])
    await this.lab.ip(client, [
      '-6',
      'route',
      'add',
      'default',
      'via',
      CLIENT6.gw,
    ])
    for (const s of [
      'net.ipv4.ip_forward=1',
      'net.ipv4.fib_multipath_hash_policy=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv6.fib_multipath_hash_policy=1',
    ])
      await this.lab.exec(lan.rt, 'sysctl', ['-qw', s])
    for (const n of NS) {
      await this.lab.ip(this.ns[n], ['route', 'add', 'default', 'via', ROUTER])
      await this.lab.ip(this.ns[n], [
        '-6',
        'route',
        'add',
        'default',
        'via',
        ROUTER6,
      ])
      const r = await run('ip', [
        'netns',
        'exec',
        this.ns[n],
        process.execPath,
        binPath('traffic-client'),
        'dr-node',
        '--setup',
        VIP,
        VIP6,
      ])
      if (r.code !== 0) throw new Error(`dr-node --setup in ${n}: ${r.stderr}`)
    }
    writeFileSync(
      join(this.dir, 'tmd.conf'),
      [
        ...MASTERS.map((a, i) => `master${i + 1} ${a}`),
        ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
        // The same nodes by their IPv6 addresses, for the IPv6 service.
        ...NODES6.map((a, i) => `traffic${i + 5} ${a}`),
        'port 7070',
        'listen ::',
        'timeout 1000',
        `key ${KEY}`,
        'shutdown-deadline 1s',
        `virtual ${VIP}:80`,
        '    dataplane nftables-dr',
        ...NODES.map(a => `    node ${a}:80`),
        `virtual [${VIP6}]:80`,
        '    dataplane nftables-dr',
        ...NODES6.map(a => `    node ${a}`),
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
    const bird = this.bird(
      m,
      masterBird(MASTERS[i] as string, MASTERS6[i] as string),
    )
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
        'protocol vip6',
        `traffic-manager ${this.tmSocket(m)}`,
        `service ${VIP}:80`,
        `service [${VIP6}]:80`,
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
        // Dual stack: the IPv6 report (naming the node's IPv6 address, as
        // the IPv6 service knows it) goes to the masters' IPv6 addresses.
        ...MASTERS.map((a, j) => `master${j + 1} ${a} ${MASTERS6[j]}`),
        'port 7070',
        'updates 200',
        `key ${KEY}`,
        `node ${NODES[i]} ${NODES6[i]}`,
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

  /** Next hops of the VIP route (IPv6: the /128) in the router's kernel (sorted). */
  async nextHops(family: 4 | 6 = 4): Promise<string[]> {
    const out = await this.lab.ip(this.ns.rt, [
      `-${family}`,
      '-j',
      'route',
      'show',
      family === 4 ? `${VIP}/32` : `${VIP6}/128`,
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

  async waitHops(
    want: readonly string[],
    timeoutMs = 20_000,
    family: 4 | 6 = 4,
  ): Promise<void> {
    const w = [...want].sort().join(',')
    await this.until(
      `router's IPv${family} VIP route via [${w}]`,
      async () => (await this.nextHops(family)).join(',') === w,
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
  async curl(family: 4 | 6 = 4): Promise<string> {
    return (
      await sh('ip', [
        'netns',
        'exec',
        this.ns.client,
        'curl',
        '-s',
        '--max-time',
        '5',
        family === 4 ? `http://${VIP}/` : `http://[${VIP6}]/`,
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
  vip: string = VIP,
): Promise<{ p: Proc; round: () => Promise<(string | null)[]> }> {
  const p = lab.keep(
    spawnScript(PEER, ['client', vip, '80', String(count)], {
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
