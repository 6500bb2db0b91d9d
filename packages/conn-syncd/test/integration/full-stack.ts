// The whole stack on one bridge, all real binaries: a client, two masters
// and three traffic nodes in namespaces made here. Each master runs
// traffic-manager (`dataplane nftables`), conn-syncd (following its local
// heartbeatd) and heartbeatd (moving the VIP with its IPaddr agent); each
// node runs traffic-client, reporting a fixed load (a procfs fixture) to
// both masters. The active master dies (its daemons SIGKILLed, its link
// cut); heartbeatd on the standby takes the VIP, and every stream continues.
// Then m1 rejoins, resyncs, and heartbeatd fails back (auto_failback on).
// failover.ts is the faster harness-level version of the same path.
import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { controlRequest } from '@has/daemon-kit'
import { needsRoot, NetnsLab, sh, waitFor } from '@has/test-support'
import {
  runBin,
  spawnDaemon,
  track,
  type LogLine,
  type Proc,
} from '@has/test-support'

const fixture = (f: string) =>
  fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url))
const { writeProcfsFixture } = (await import(
  new URL('../../../traffic-client/dist/procfs-fixture.js', import.meta.url)
    .href
)) as { writeProcfsFixture: (dir: string, f: Record<string, number>) => string }

const VIP = '10.77.0.100'
const SERVICE = `${VIP}:80`
const CLIENT = '10.77.0.1'
const MASTERS = { m1: '10.77.0.11', m2: '10.77.0.12' } as const
const NODES = { n1: '10.77.0.21', n2: '10.77.0.22', n3: '10.77.0.23' } as const
const STREAMS = 30
type Master = keyof typeof MASTERS

interface NodeStatus {
  address: string
  eligible: boolean
  active: number
  total: number
  packets?: number
}
interface TmStatus {
  services: { name: string; dataplane: string; nodes: NodeStatus[] }[]
}

t.test(
  'full stack: heartbeatd moves the VIP, nftables + conn-syncd keep every stream',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('fs')
    const procs: Proc[] = []
    const dir = `/tmp/${lab.prefix}`
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
      await sh('rm', ['-rf', dir])
    })
    mkdirSync(dir, { recursive: true })

    // Topology: every host has eth0 on one bridge (in its own namespace).
    const br = await lab.add('br')
    await lab.bridge(br)
    const ns: Record<string, string> = {}
    let port = 0
    for (const [name, addr] of Object.entries({
      c: CLIENT,
      ...MASTERS,
      ...NODES,
    })) {
      ns[name] = await lab.add(name)
      await lab.veth(
        { ns: ns[name], ifname: 'eth0', addr: `${addr}/24` },
        { ns: br, ifname: `p${port}` },
      )
      await lab.ip(br, ['link', 'set', `p${port++}`, 'master', 'br0'])
      // Neighbours follow the gratuitous ARP of whichever master takes the VIP.
      await lab.exec(ns[name], 'sysctl', [
        '-qw',
        'net.ipv4.conf.eth0.arp_accept=1',
      ])
    }
    const H = (n: string) => ns[n] as string
    const inNs = (n: string, args: string[], stdin = false): Proc => {
      const p = track(
        spawn('ip', ['netns', 'exec', H(n), process.execPath, ...args], {
          stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        }),
      )
      procs.push(p)
      return p
    }
    const daemon = (pkg: string, n: string, args: string[]): Proc => {
      const p = spawnDaemon(pkg, args, {
        netns: H(n),
        echo: process.env.FS_ECHO === '1',
      })
      procs.push(p)
      return p
    }
    const write = (path: string, lines: string[]): string => {
      writeFileSync(path, lines.join('\n') + '\n')
      return path
    }
    const sock = (what: string, m: string) => join(dir, `${what}-${m}.sock`)

    // Traffic nodes: the stream server and traffic-client with a fixed load.
    const nodeReady = Object.entries(NODES).map(async ([n, addr]) => {
      const proc = join(dir, `proc-${n}`)
      writeProcfsFixture(proc, {
        bogomips: 4000,
        cpus: 2,
        memTotalMB: 2048,
        memFreeMB: 1536,
        idleShare: 0.9,
      })
      const conf = write(join(dir, `tcd-${n}.conf`), [
        `master1 ${MASTERS.m1}`,
        `master2 ${MASTERS.m2}`,
        'port 7070',
        'updates 200',
        `node ${addr}`,
        'key full-stack-report-key-1',
      ])
      const tc = daemon('traffic-client', n, [
        '-c',
        conf,
        '--procfs',
        proc,
        '--control',
        sock('tc', n),
      ])
      await Promise.all([
        inNs(n, [fixture('stream-server.mjs'), n]).waitLog(
          l => l.msg === 'listening',
          40_000,
        ),
        tc.waitLog(l => l.msg === 'started', 40_000),
      ])
    })

    // Masters: traffic-manager (nftables), heartbeatd, conn-syncd.
    const tm: Partial<Record<Master, Proc>> = {}
    const hb: Partial<Record<Master, Proc>> = {}
    const cs: Partial<Record<Master, Proc>> = {}
    const startTm = async (m: Master) => {
      await lab.exec(H(m), 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
      const conf = write(join(dir, `tmd-${m}.conf`), [
        `master1 ${MASTERS.m1}`,
        `master2 ${MASTERS.m2}`,
        ...Object.values(NODES).map((a, i) => `traffic${i + 1} ${a}`),
        'listen 0.0.0.0',
        'port 7070',
        'timeout 3000',
        'key full-stack-report-key-1',
        'workers 0',
        `virtual ${SERVICE}`,
        '  dataplane nftables',
        ...Object.values(NODES).map(a => `  node ${a}:8080`),
      ])
      const p = daemon('traffic-manager', m, [
        '-c',
        conf,
        '--control',
        sock('tm', m),
      ])
      tm[m] = p
      await p.waitLog(l => l.msg === 'traffic-manager ready', 40_000)
    }
    const startHb = async (m: Master) => {
      const d = join(dir, `hb-${m}`)
      mkdirSync(d, { recursive: true })
      const conf = write(join(d, 'ha.cf'), [
        // Slow enough not to flap on a busy 2-core CI box, fast enough for the test.
        'keepalive 100ms',
        'deadtime 1s',
        'warntime 500ms',
        'initdead 3s',
        'udpport 694',
        `ucast eth0 ${MASTERS.m1}`,
        `ucast eth0 ${MASTERS.m2}`,
        'node m1 m2',
        'auto_failback on',
        `state_dir ${d}/state`,
        'event_listen 127.0.0.1:6941',
      ])
      write(join(d, 'authkeys'), [
        'auth 1',
        '1 sha256 full-stack-heartbeat-secret',
      ])
      chmodSync(join(d, 'authkeys'), 0o600)
      write(join(d, 'haresources'), [`m1 ${VIP}/32/eth0`])
      const p = daemon('heartbeatd', m, [
        '--config',
        conf,
        '--node',
        m,
        '--control',
        sock('hb', m),
      ])
      hb[m] = p
      await p.waitLog(l => l.msg === 'heartbeat running', 40_000)
    }
    const startCs = async (m: Master, heartbeatUp = true) => {
      const other = m === 'm1' ? MASTERS.m2 : MASTERS.m1
      const conf = write(join(dir, `cs-${m}.conf`), [
        `node ${m}`,
        `listen ${MASTERS[m]}:6950`,
        `peer ${other}:6950`,
        'auth-key full-stack-sync-secret',
        `service ${SERVICE} tcp`,
        'sync-threshold 300ms',
        'refresh-interval 2s',
        'entry-timeout 60s',
        'heartbeat 127.0.0.1:6941',
      ])
      const p = daemon('conn-syncd', m, [
        '--config',
        conf,
        '--control',
        sock('cs', m),
        '--log-level',
        'debug',
      ])
      cs[m] = p
      // Started after heartbeatd, the first connect finds its event port;
      // without it conn-syncd retries every 2 s.
      await p.waitLog(
        l =>
          l.msg ===
          (heartbeatUp ? 'following heartbeatd membership' : 'started'),
        40_000,
      )
    }
    const startMaster = async (m: Master) => {
      await Promise.all([startTm(m), startHb(m)])
      await startCs(m)
    }

    const tmStatus = async (m: Master): Promise<TmStatus> => {
      const r = await runBin('traffic-manager', [
        'status',
        '--json',
        '--control',
        sock('tm', m),
      ])
      if (r.code !== 0)
        throw new Error(`traffic-manager status ${m} failed: ${r.stderr}`)
      return JSON.parse(r.stdout) as TmStatus
    }
    const svcNodes = async (m: Master) =>
      (await tmStatus(m)).services.find(s => s.name === SERVICE)?.nodes ?? []
    const sum = (nodes: NodeStatus[], k: 'total' | 'packets' | 'active') =>
      nodes.reduce((a, n) => a + (n[k] ?? 0), 0)
    const until = async <T>(
      what: string,
      get: () => Promise<T>,
      ok: (v: T) => boolean,
      ms = 20_000,
    ): Promise<T> => {
      // Polling daemons' own status: the state we wait for lives in them.
      let last: T | undefined
      const got = await waitFor(
        async () => {
          last = await get()
          return ok(last) ? { v: last } : undefined
        },
        { what, timeoutMs: ms, intervalMs: 200 },
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify(last)}`)
      })
      return got.v
    }
    // The peer holds every stream's flow and has it in its kernel.
    const heldInKernel = async (m: Master) => {
      const flows = (await controlRequest(sock('cs', m), 'flows')) as {
        src: string
        sport: number
        inKernel: boolean
      }[]
      return new Set(
        flows.filter(f => f.src === CLIENT && f.inKernel).map(f => f.sport),
      )
    }
    const after = (p: Proc) => {
      const n = p.logs.length
      return (pred: (l: LogLine) => boolean, ms = 20_000) =>
        p.waitLog(l => p.logs.indexOf(l) >= n && pred(l), ms)
    }

    const client = inNs('c', [fixture('stream-client.mjs'), VIP, '80'], true)
    let asked = 0
    const ask = async (
      cmd: string,
      msg: string,
      ms = 20_000,
    ): Promise<LogLine> => {
      client.child.stdin?.write(cmd + '\n')
      const mine = asked++
      // Answers come in request order.
      return client.waitLog(
        l =>
          l.msg === msg &&
          client.logs
            .filter(
              x =>
                x.msg === 'opened' || x.msg === 'checked' || x.msg === 'short',
            )
            .indexOf(l) === mine,
        ms,
      )
    }

    // 1. Start everything (in parallel: start-up dominates the run time).
    await Promise.all([
      ...nodeReady,
      startMaster('m1'),
      startMaster('m2'),
      client.waitLog(l => l.msg === 'client ready', 40_000),
    ])
    const home = (l: LogLine) =>
      l.msg === 'resource holder' && l.holder === 'm1'
    await Promise.all([hb.m1!.waitLog(home), hb.m2!.waitLog(home)])
    await hb.m1!.waitLog(
      l => l.msg === 'resource agent' && l.op === 'start' && l.ok === true,
    )
    for (const m of ['m1', 'm2'] as const) {
      await until(
        `${m}: all three nodes eligible`,
        () => svcNodes(m),
        n => n.length === 3 && n.every(x => x.eligible),
      )
      await cs[m]!.waitLog(
        l =>
          l.msg === 'heartbeatd membership event' &&
          l.event === 'active' &&
          l.node === 'm1',
      )
    }
    t.pass(
      'heartbeatd gave the VIP to m1; both traffic-managers see three eligible nodes; both conn-syncds follow heartbeatd',
    )

    // 2. Long-lived streams through m1, half client-talk, half server-push.
    const opened = await ask(`open A ${STREAMS} mixed`, 'opened')
    t.equal(
      opened.ok,
      STREAMS,
      `all ${STREAMS} streams opened through the VIP ${JSON.stringify(opened.backends)}`,
    )
    const ports = opened.ports as number[]
    const c0 = await ask('check A', 'checked')
    t.equal(c0.ok, STREAMS, 'every stream flows before the failover')
    const m1Nodes = await until(
      'm1 counters',
      () => svcNodes('m1'),
      n => sum(n, 'total') >= STREAMS,
    )
    t.ok(
      m1Nodes.every(n => typeof n.packets === 'number'),
      'status --json has packets for every nftables node',
    )
    t.ok(
      sum(m1Nodes, 'packets') > 0,
      `m1 kernel counted packets (${sum(m1Nodes, 'packets')})`,
    )
    t.equal(
      sum(await svcNodes('m2'), 'total'),
      0,
      'the standby has steered no connection yet',
    )

    // 3. Wait until m2 holds every stream in its kernel, then m1 dies.
    await until(
      `m2 to hold all ${STREAMS} flows in its kernel`,
      () => heldInKernel('m2'),
      s => ports.every(p => s.has(p)),
      40_000,
    )
    const hb2 = after(hb.m2!)
    const cs2 = after(cs.m2!)
    await Promise.all([
      hb.m1!.stop('SIGKILL'),
      tm.m1!.stop('SIGKILL'),
      cs.m1!.stop('SIGKILL'),
    ])
    await lab.ip(H('m1'), ['link', 'set', 'eth0', 'down'])
    await hb2(l => l.msg === 'peer dead' && l.node === 'm1')
    await hb2(l => l.msg === 'resource holder' && l.holder === 'm2')
    await hb2(
      l => l.msg === 'resource agent' && l.op === 'start' && l.ok === true,
    )
    await cs2(
      l =>
        l.msg === 'heartbeatd membership event' &&
        l.event === 'node' &&
        l.node === 'm1' &&
        l.alive === false,
    )
    t.pass('conn-syncd on m2 got NODE m1 dead from heartbeatd')
    await cs2(
      l =>
        l.msg === 'heartbeatd membership event' &&
        l.event === 'active' &&
        l.node === 'm2',
    )
    t.pass('conn-syncd on m2 got ACTIVE m2 from heartbeatd')

    // Retransmissions back off while the VIP moves: allow a longer check.
    const c1 = await ask('check A 10000', 'checked')
    t.equal(
      c1.ok,
      STREAMS,
      `every stream survives the failover (${JSON.stringify(c1)})`,
    )
    t.equal(c1.resets, 0, 'no reset')

    // 4. New connections go through m2's traffic-manager.
    const fresh = await ask('open B 10 mixed', 'opened')
    t.equal(
      fresh.ok,
      10,
      'new connections through the VIP work on the new master',
    )
    const c2 = await ask('check B', 'checked')
    t.equal(c2.ok, 10, 'and they flow')
    const m2Nodes = await until(
      'm2 counters',
      () => svcNodes('m2'),
      n => sum(n, 'total') >= 10 && sum(n, 'packets') > 0,
    )
    t.ok(
      sum(m2Nodes, 'total') >= 10,
      `m2 steered the new connections (${sum(m2Nodes, 'total')})`,
    )
    t.ok(
      sum(m2Nodes, 'packets') > 0,
      `m2 kernel counted packets of old and new streams (${sum(m2Nodes, 'packets')})`,
    )
    t.ok(
      sum(m2Nodes, 'active') >= 10,
      `m2 conntrack shows the streams (${sum(m2Nodes, 'active')})`,
    )

    // 5. m1 comes back as after a reboot (no VIP, empty conntrack, fresh
    // daemons). Its heartbeatd starts last, once conn-syncd has resynced every
    // stream into m1's kernel: with auto_failback it takes the VIP back at once.
    await lab
      .ip(H('m1'), ['addr', 'del', `${VIP}/32`, 'dev', 'eth0'])
      .catch(() => undefined)
    await lab.exec(H('m1'), 'conntrack', ['-F']).catch(() => undefined)
    await lab.ip(H('m1'), ['link', 'set', 'eth0', 'up'])
    await Promise.all([startTm('m1'), startCs('m1', false)])
    await until(
      'm1: all three nodes eligible again',
      () => svcNodes('m1'),
      n => n.length === 3 && n.every(x => x.eligible),
    )
    const all = [...ports, ...(fresh.ports as number[])]
    await until(
      `m1 to resync all ${all.length} flows into its kernel`,
      () => heldInKernel('m1'),
      s => all.every(p => s.has(p)),
      40_000,
    )
    const hb2b = after(hb.m2!)
    const cs2b = after(cs.m2!)
    await startHb('m1')
    await hb.m1!.waitLog(
      l => l.msg === 'resource agent' && l.op === 'start' && l.ok === true,
    )
    await hb2b(l => l.msg === 'resource holder' && l.holder === 'm1')
    await cs2b(
      l =>
        l.msg === 'heartbeatd membership event' &&
        l.event === 'active' &&
        l.node === 'm1',
    )
    await cs.m1!.waitLog(
      l =>
        l.msg === 'heartbeatd membership event' &&
        l.event === 'active' &&
        l.node === 'm1',
    )
    t.pass('heartbeatd failed back to m1; both conn-syncds saw ACTIVE m1')
    const c3 = await ask('check A 10000', 'checked')
    const c4 = await ask('check B 10000', 'checked')
    t.equal(
      c3.ok,
      STREAMS,
      `first streams survive the fail back (${JSON.stringify(c3)})`,
    )
    t.equal(
      c4.ok,
      10,
      `streams opened on m2 survive the fail back (${JSON.stringify(c4)})`,
    )
    t.equal((c3.resets as number) + (c4.resets as number), 0, 'no reset')
    const back = await ask('open C 6 mixed', 'opened')
    t.equal(back.ok, 6, 'new connections work after the fail back')
    const m1Again = await until(
      'm1 counters after fail back',
      () => svcNodes('m1'),
      n => sum(n, 'total') >= 6,
    )
    t.ok(
      sum(m1Again, 'packets') > 0,
      `m1's fresh traffic-manager counts packets (${sum(m1Again, 'packets')})`,
    )
  },
)
