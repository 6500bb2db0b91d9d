// Client, two masters and three traffic nodes on a bridge, all in
// namespaces made here. Both masters run the nftables data plane (driven
// through createNftDataPlane by a harness) and conn-syncd; the test moves
// the VIP (ip addr + arping) and cuts the active master's link.
import t from 'tap'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { needsRoot, NetnsLab, sh, waitFor } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import {
  runBin,
  spawnDaemon,
  track,
  type LogLine,
  type Proc,
} from '@has/test-support'

const fixture = (f: string) =>
  fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url))
const VIP = '10.77.0.100'
const NODES = [
  { name: 'n1', addr: '10.77.0.21' },
  { name: 'n2', addr: '10.77.0.22' },
  { name: 'n3', addr: '10.77.0.23' },
]
const backends = (w: number[]) =>
  NODES.map((n, i) => ({
    id: n.addr,
    host: n.addr,
    port: 8080,
    weight: w[i] ?? 1,
  }))

t.test(
  'established streams survive a master failover and a fail back',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('cs')
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
    })
    const br = await lab.add('br')
    await lab.bridge(br)
    const hosts: Record<string, string> = {}
    const addrs: Record<string, string> = {
      c: '10.77.0.1',
      m1: '10.77.0.11',
      m2: '10.77.0.12',
    }
    for (const n of NODES) addrs[n.name] = n.addr
    let i = 0
    for (const [name, addr] of Object.entries(addrs)) {
      const ns = await lab.add(name)
      hosts[name] = ns
      const ifn = `e${name}`
      await sh('ip', [
        'link',
        'add',
        ifn,
        'netns',
        ns,
        'type',
        'veth',
        'peer',
        'name',
        `p${process.pid % 10000}${i++}`,
        'netns',
        br,
      ])
      await lab.ip(ns, ['addr', 'add', `${addr}/24`, 'dev', ifn])
      await lab.ip(ns, ['link', 'set', ifn, 'up'])
      await lab.exec(ns, 'sysctl', ['-qw', `net.ipv4.conf.${ifn}.arp_accept=1`])
    }
    for (const l of (await lab.ip(br, ['-o', 'link', 'show'])).split('\n')) {
      const m = /^\d+: (p\d+)@/.exec(l)
      if (m?.[1]) {
        await lab.ip(br, ['link', 'set', m[1], 'master', 'br0'])
        await lab.ip(br, ['link', 'set', m[1], 'up'])
      }
    }
    const H = (n: string) => hosts[n] as string
    const inNs = (
      ns: string,
      cmd: string,
      args: string[],
      stdin = false,
    ): Proc => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
        stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      })
      const p = track(child)
      procs.push(p)
      return p
    }
    const waitMsg = (p: Proc, pred: (l: LogLine) => boolean, ms = 20_000) =>
      p.waitLog(pred, ms)

    // Processes start in parallel: startup dominates this test's time.
    await Promise.all(
      NODES.map(n =>
        waitMsg(
          inNs(H(n.name), process.execPath, [
            fixture('stream-server.mjs'),
            n.name,
          ]),
          l => l.msg === 'listening',
        ),
      ),
    )
    const spec = JSON.stringify({
      name: `${VIP}:80`,
      address: VIP,
      port: 80,
      family: 4,
    })
    const planes: Record<string, Proc> = {}
    const update = async (m: string, w: number[]) => {
      const p = planes[m] as Proc
      const before = p.logs.filter(l => l.msg === 'updated').length
      p.child.stdin?.write(JSON.stringify(backends(w)) + '\n')
      await waitMsg(
        p,
        () => p.logs.filter(l => l.msg === 'updated').length > before,
      )
    }
    await Promise.all(
      ['m1', 'm2'].map(async m => {
        await lab.exec(H(m), 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
        planes[m] = inNs(
          H(m),
          process.execPath,
          [fixture('nft-harness.mjs'), spec],
          true,
        )
        await waitMsg(planes[m] as Proc, l => l.msg === 'ready')
        await update(m, [1, 1, 1])
      }),
    )
    const confDir = `/tmp/${lab.prefix}`
    await sh('mkdir', ['-p', confDir])
    t.teardown(() => sh('rm', ['-rf', confDir]))
    const syncd: Record<string, Proc> = {}
    const startSync = async (m: string) => {
      const other = m === 'm1' ? addrs.m2 : addrs.m1
      const conf = `${confDir}/${m}.conf`
      writeFileSync(
        conf,
        [
          `node ${m}`,
          `listen ${addrs[m]}:6950`,
          `peer ${other}:6950`,
          'auth-key test-secret-123',
          `service ${VIP}:80 tcp`,
          'sync-threshold 300ms',
          'refresh-interval 2s',
          'entry-timeout 60s',
          '',
        ].join('\n'),
      )
      const p = spawnDaemon(
        'conn-syncd',
        [
          '--config',
          conf,
          '--control',
          `${confDir}/${m}.sock`,
          '--log-level',
          'debug',
        ],
        { netns: H(m), echo: process.env.CS_ECHO === '1' },
      )
      procs.push(p)
      // daemon-kit logs 'started' once the control socket listens.
      await p.waitLog(l => l.msg === 'started', 40_000)
      syncd[m] = p
    }
    const status = async (m: string) => {
      const r = await runBin('conn-syncd', [
        'status',
        '--json',
        '--control',
        `${confDir}/${m}.sock`,
      ])
      if (r.code !== 0) throw new Error(`status ${m} failed: ${r.stderr}`)
      return JSON.parse(r.stdout) as {
        heldEntries: number
        kernelPending: number
        localFlows: number
        resyncServed: number
        peers: { resyncsReceived: number }[]
      }
    }
    // The event a cut must wait for: the peer holds every stream's flow and
    // has it in its kernel (counts alone can be met by a stray entry).
    const holdsAll = async (m: string, ports: number[]): Promise<boolean> => {
      const flows = (await controlRequest(`${confDir}/${m}.sock`, 'flows')) as {
        src: string
        sport: number
        inKernel: boolean
      }[]
      const ready = new Set(
        flows.filter(f => f.src === addrs.c && f.inKernel).map(f => f.sport),
      )
      return ports.every(p => ready.has(p))
    }
    const until = async (
      what: string,
      pred: () => Promise<boolean>,
      ms = 20_000,
    ) => {
      // Polling the daemon's own status (an event source we do not own).
      await waitFor(pred, { what, timeoutMs: ms, intervalMs: 200 })
    }
    const takeVip = async (m: string) => {
      await lab.ip(H(m), ['addr', 'add', `${VIP}/32`, 'dev', `e${m}`])
      // Gratuitous ARP; Habets arping needs -S to put the VIP in the sender field.
      await lab
        .exec(H(m), 'arping', [
          '-q',
          '-U',
          '-S',
          VIP,
          '-c',
          '2',
          '-w',
          '1',
          '-I',
          `e${m}`,
          VIP,
        ])
        .catch(() => undefined)
    }
    const dropVip = (m: string) =>
      lab
        .ip(H(m), ['addr', 'del', `${VIP}/32`, 'dev', `e${m}`])
        .catch(() => undefined)

    const client = inNs(
      H('c'),
      process.execPath,
      [fixture('stream-client.mjs'), VIP, '80'],
      true,
    )
    let seen = 0
    const ask = async (cmd: string, msg: string): Promise<LogLine> => {
      client.child.stdin?.write(cmd + '\n')
      const mine = ++seen
      // Answers come in request order: wait for the mine-th answer line.
      return waitMsg(
        client,
        l =>
          l.msg === msg &&
          client.logs
            .filter(
              x =>
                x.msg === 'opened' || x.msg === 'checked' || x.msg === 'short',
            )
            .indexOf(l) ===
            mine - 1,
      )
    }

    await Promise.all([
      startSync('m1'),
      startSync('m2'),
      waitMsg(client, l => l.msg === 'client ready'),
    ])
    await takeVip('m1')

    // 1. 50 long-lived streams through m1, half client-talk, half server-push.
    const opened = await ask('open A 50 mixed', 'opened')
    t.equal(opened.ok, 50, 'all 50 streams opened through the VIP')

    // 2. Weights: n3 quiesced gets no new connection; its open streams continue.
    await update('m1', [3, 1, 0])
    await update('m2', [3, 1, 0])
    const short = (await ask('short 40', 'short')) as LogLine & {
      backends: Record<string, number>
    }
    t.equal(short.ok, 40)
    t.notOk(short.backends.n3, 'quiesced n3 got no new connection')
    t.ok(
      (short.backends.n1 ?? 0) > (short.backends.n2 ?? 0),
      `weights 3:1 followed (${JSON.stringify(short.backends)})`,
    )
    const c0 = await ask('check A', 'checked')
    t.equal(c0.ok, 50, 'every stream (n3 included) still flows after quiescing')

    // 3. The standby holds all 50 entries; kill m1 (link down), move the VIP.
    await until(
      'm2 to hold all 50 flows in its kernel',
      () => holdsAll('m2', opened.ports as number[]),
      40_000,
    )
    await lab.ip(H('m1'), ['link', 'set', 'em1', 'down'])
    await takeVip('m2')
    const c1 = await ask('check A', 'checked')
    t.equal(
      c1.ok,
      50,
      `all streams survive the failover (${JSON.stringify(c1)})`,
    )
    t.equal(c1.resets, 0, 'no reset')
    const n1 = await ask('open B 20 mixed', 'opened')
    t.equal(n1.ok, 20, 'new connections work on the new master')

    // 4. m1 rejoins with an empty daemon, resyncs, and takes the VIP back.
    await syncd.m1?.stop('SIGKILL')
    await dropVip('m1')
    await lab.ip(H('m1'), ['link', 'set', 'em1', 'up'])
    await startSync('m1')
    await until(
      'm1 resynced all 70 flows into its kernel',
      () =>
        holdsAll('m1', [
          ...(opened.ports as number[]),
          ...(n1.ports as number[]),
        ]),
      40_000,
    )
    t.ok(
      (await status('m1')).peers.some(p => p.resyncsReceived > 0),
      'm1 got them by a full resync',
    )
    await dropVip('m2')
    await lab.ip(H('m2'), ['link', 'set', 'em2', 'down'])
    await takeVip('m1')
    const c2 = await ask('check A', 'checked')
    const c3 = await ask('check B', 'checked')
    t.equal(
      c2.ok,
      50,
      `first streams survive the fail back too (${JSON.stringify(c2)})`,
    )
    t.equal(
      c3.ok,
      20,
      'streams opened on the second master survive the fail back',
    )

    // 5. A second failover onto a master whose daemon ran all along: m2
    // forwarded these streams in its own turn (3.), so its kernel kept
    // entries with that turn's TCP window state. Since then m1 carried
    // more data, which those entries never saw. With strict window tracking
    // (be_liberal 0, the kernel's default) they would mark the streams'
    // packets INVALID and m2 would reset them: conn-syncd removes its own
    // entries when the VIP leaves and inserts the synced ones instead.
    await lab.exec(H('m2'), 'sysctl', [
      '-qw',
      'net.netfilter.nf_conntrack_tcp_be_liberal=0',
    ])
    await lab.ip(H('m2'), ['link', 'set', 'em2', 'up'])
    await until(
      'm2 to hold all 70 flows in its kernel again',
      () =>
        holdsAll('m2', [
          ...(opened.ports as number[]),
          ...(n1.ports as number[]),
        ]),
      40_000,
    )
    // More data through m1 than m2's old entries saw.
    t.equal((await ask('check A', 'checked')).ok, 50)
    t.equal((await ask('check B', 'checked')).ok, 20)
    await lab.ip(H('m1'), ['link', 'set', 'em1', 'down'])
    await dropVip('m1')
    await takeVip('m2')
    const c5 = await ask('check A', 'checked')
    const c6 = await ask('check B', 'checked')
    t.equal(
      c5.ok,
      50,
      `a second failover onto m2 keeps every stream, strict window tracking (${JSON.stringify(c5)})`,
    )
    t.equal(c6.ok, 20, '...those opened on m2 in its first turn too')
    t.equal((c5.resets as number) + (c6.resets as number), 0, 'no reset')
    await lab.ip(H('m1'), ['link', 'set', 'em1', 'up'])
    await dropVip('m2')
    await takeVip('m1')

    // 6. Control: no conn-syncd. Fresh streams through m1, fail over to an m2
    // whose conntrack table is empty.
    await syncd.m1?.stop('SIGTERM')
    await syncd.m2?.stop('SIGTERM')
    await lab.exec(H('m2'), 'conntrack', ['-F']).catch(() => undefined)
    await lab.ip(H('m2'), ['link', 'set', 'em2', 'up'])
    const o4 = await ask('open C 20 mixed', 'opened')
    t.equal(o4.ok, 20)
    await lab.ip(H('m1'), ['link', 'set', 'em1', 'down'])
    await dropVip('m1')
    await takeVip('m2')
    const c4 = await ask('check C', 'checked')
    t.comment(
      `control without conn-syncd: ${c4.ok}/20 survived, failed by backend ${JSON.stringify(c4.failedBackends)}`,
    )
    t.ok((c4.failed as number) > 0, 'without sync, streams break on failover')
  },
)
