// Chaos finding A (a): kill -9 of traffic-manager on the master that holds
// the VIP must cost nothing on `dataplane nftables`. The kernel table stays
// when the process dies; the restarted process adopts it and replaces it in
// one transaction once it knows a backend. All real: a client, a master and
// two traffic nodes (stream servers + traffic-clients) in namespaces made
// here, a real nft table and conntrack.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { needsRoot, NetnsLab, sh } from '@has/test-support'
import { spawnDaemon, track, type LogLine, type Proc } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import type { StatusSnapshot } from '../../src/traffic-manager.js'

const fixture = (f: string): string =>
  fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url))
const streamServer = fileURLToPath(
  new URL(
    '../../../conn-syncd/test/fixtures/stream-server.mjs',
    import.meta.url,
  ),
)
const { writeProcfsFixture } = (await import(
  new URL('../../../traffic-client/dist/procfs-fixture.js', import.meta.url)
    .href
)) as { writeProcfsFixture: (dir: string, f: Record<string, number>) => string }

const VIP = '10.78.0.100'
const HOSTS = {
  c: '10.78.0.1',
  m: '10.78.0.11',
  n1: '10.78.0.21',
  n2: '10.78.0.22',
} as const
const NODES = ['n1', 'n2'] as const
const KEY = 'restart-kernel-report-key-01'
const STREAMS = 20

t.test(
  'kill -9 and restart of traffic-manager: no stream reset, every new connect served',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('tmr')
    const procs: Proc[] = []
    const dir = `/tmp/${lab.prefix}`
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
      await sh('rm', ['-rf', dir])
    })
    mkdirSync(dir, { recursive: true })
    const ns = await lab.lan(
      Object.entries(HOSTS).map(([n, a]) => [n, `${a}/24`] as const),
    )
    const H = (n: keyof typeof HOSTS): string => ns[n] as string
    const inNs = (
      n: keyof typeof HOSTS,
      args: string[],
      stdin = false,
    ): Proc => {
      const p = track(
        spawn('ip', ['netns', 'exec', H(n), process.execPath, ...args], {
          stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        }),
      )
      procs.push(p)
      return p
    }
    const write = (name: string, lines: string[]): string => {
      const p = join(dir, name)
      writeFileSync(p, lines.join('\n') + '\n')
      return p
    }

    const clients: Proc[] = []
    await Promise.all(
      NODES.map(async n => {
        const proc = join(dir, `proc-${n}`)
        writeProcfsFixture(proc, {
          bogomips: 4000,
          cpus: 2,
          memTotalMB: 2048,
          memFreeMB: 1536,
          idleShare: 0.9,
        })
        const conf = write(`tcd-${n}.conf`, [
          `master1 ${HOSTS.m}`,
          'port 7070',
          'updates 200',
          `node ${HOSTS[n]}`,
          `key ${KEY}`,
        ])
        const tc = spawnDaemon(
          'traffic-client',
          [
            '-c',
            conf,
            '--procfs',
            proc,
            '--control',
            join(dir, `tc-${n}.sock`),
          ],
          { netns: H(n) },
        )
        procs.push(tc)
        clients.push(tc)
        await Promise.all([
          inNs(n, [streamServer, n]).waitLog(l => l.msg === 'listening'),
          tc.waitLog(l => l.msg === 'started', 40_000),
        ])
      }),
    )

    await lab.exec(H('m'), 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    await lab.ip(H('m'), ['addr', 'add', `${VIP}/32`, 'dev', 'eth0'])
    const control = join(dir, 'tm.sock')
    const conf = write('tmd.conf', [
      ...NODES.map((n, i) => `traffic${i + 1} ${HOSTS[n]}`),
      'listen 0.0.0.0',
      'port 7070',
      'timeout 5000',
      `key ${KEY}`,
      'workers 0',
      `virtual ${VIP}:80`,
      '  dataplane nftables',
      ...NODES.map(n => `  node ${HOSTS[n]}:8080`),
    ])
    const startTm = async (): Promise<Proc> => {
      const p = spawnDaemon(
        'traffic-manager',
        ['-c', conf, '--control', control],
        { netns: H('m'), echo: process.env.TM_ECHO === '1' },
      )
      procs.push(p)
      await p.waitLog(l => l.msg === 'traffic-manager ready', 40_000)
      return p
    }
    const eligible = async (what: string): Promise<void> => {
      const end = Date.now() + 20_000
      for (;;) {
        const s = (await controlRequest(control, 'status').catch(
          () => undefined,
        )) as StatusSnapshot | undefined
        if (s?.services[0]?.nodes.every(n => n.eligible)) return
        if (Date.now() > end)
          throw new Error(
            `timed out waiting for ${what}: ${JSON.stringify(s?.services)}`,
          )
        await new Promise(r => setTimeout(r, 50))
      }
    }

    let tm = await startTm()
    await eligible('both nodes eligible')

    const prober = inNs(
      'c',
      [fixture('vip-prober.mjs'), VIP, '80', String(STREAMS)],
      true,
    )
    const opened = await prober.waitLog(l => l.msg === 'streams', 20_000)
    t.equal(opened.open, STREAMS, `${STREAMS} streams open through the VIP`)
    const probesSoFar = (): number =>
      prober.logs.filter(l => l.msg === 'probe').length
    const waitProbes = (n: number, what: string): Promise<LogLine> => {
      const target = probesSoFar() + n
      return prober
        .waitLog(() => probesSoFar() >= target, 20_000)
        .catch(() => {
          throw new Error(`timed out waiting for ${n} probes ${what}`)
        })
    }
    await waitProbes(10, 'before the kill')

    t.equal(await tm.stop('SIGKILL'), 'SIGKILL', 'traffic-manager killed')
    const table = await lab.exec(H('m'), 'nft', ['list', 'tables'])
    t.match(
      table,
      /has_tm_10_78_0_100_80/,
      'the kernel table outlives the process',
    )
    await waitProbes(10, 'while no traffic-manager runs')

    // The restarted process hears no report for a while (the nodes' next
    // reports are late, as on a loaded machine): the kernel must keep
    // forwarding meanwhile. SIGSTOP makes the gap certain, not a race.
    const signalClients = (sig: NodeJS.Signals): void => {
      for (const c of clients) process.kill(c.pid, sig)
    }
    signalClients('SIGSTOP')
    t.teardown(() => {
      try {
        signalClients('SIGCONT')
      } catch {
        /* gone */
      }
    })
    tm = await startTm()
    await waitProbes(5, 'after the restart, before any report')
    signalClients('SIGCONT')
    const adopted = await tm.waitLog(
      l =>
        l.msg ===
        'adopted the nftables table left by a previous instance; it forwards until the first backend set',
    )
    t.ok(adopted, 'the restarted process adopted the table')
    await tm.waitLog(l => l.msg === 'nftables table programmed', 20_000)
    await eligible('both nodes eligible after the restart')
    t.notOk(
      tm.logs.find(l => /VIP is already local/.test(String(l.msg))),
      'no "data plane not ready" warning',
    )
    await waitProbes(20, 'after the restart')

    prober.child.stdin?.write('stop\n')
    const totals = await prober.waitLog(l => l.msg === 'totals', 20_000)
    t.comment(JSON.stringify(totals))
    t.equal(totals.streamsReset, 0, 'no stream reset')
    t.equal(totals.streamsClosed, 0, 'no stream closed')
    t.equal(totals.alive, STREAMS, 'every stream alive')
    t.equal(totals.lastRoundPongs, STREAMS, 'every stream still answers')
    t.equal(
      totals.probesFailed,
      0,
      `every new connect served (${String(totals.probes)} probes, errors ${JSON.stringify(totals.probeErrors)})`,
    )
  },
)
