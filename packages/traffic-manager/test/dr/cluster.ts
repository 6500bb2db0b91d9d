// The whole direct-routing cluster with the real daemons (root only): two
// masters each running heartbeatd (VIP takeover) and traffic-manager
// (`dataplane nftables-dr`), three nodes each running traffic-client (set
// up by `traffic-client dr-node --setup`) and a web server, a client; all
// on one bridge in namespaces made here. No conn-syncd anywhere.
import t from 'tap'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { writeProcfsFixture } from '@has/traffic-client'
import { needsRoot, waitFor } from '@has/test-support'
import {
  run,
  spawnDaemon,
  binPath,
  type Proc,
  type LogLine,
} from '@has/test-support'
import { DrLab, V4, streams, tally } from './helpers/lab.js'
import type { StatusSnapshot } from '../../src/traffic-manager.js'

const KEY = 'dr-cluster-test-shared-key-01'
const HB = { a: '10.9.5.2', b: '10.9.5.3' }

t.test(
  'heartbeatd failover, node join, weight change and node death with the real daemons; status from kernel counters',
  async t => {
    if (!needsRoot(t)) return
    const lab = new DrLab(V4, 'drc')
    const dir = mkdtempSync(join(tmpdir(), 'has-dr-'))
    t.teardown(async () => {
      await lab.cleanup()
      rmSync(dir, { recursive: true, force: true })
    })
    await lab.setUp(false)
    const { ns } = lab
    await lab.lab.veth(
      { ns: ns.a, ifname: 'eth1', addr: `${HB.a}/24` },
      { ns: ns.b, ifname: 'eth1', addr: `${HB.b}/24` },
    )
    const keep = (p: Proc): Proc => (lab.procs.push(p), p)

    // Node side: the documented helper sets each node up.
    for (const n of ['n1', 'n2', 'n3'] as const) {
      const r = await run('ip', [
        'netns',
        'exec',
        ns[n],
        process.execPath,
        binPath('traffic-client'),
        'dr-node',
        '--setup',
        V4.vip,
      ])
      t.equal(r.code, 0, `${n} set up: ${r.stderr.trim()}`)
    }

    // Masters: heartbeatd + traffic-manager.
    const hbConf = (name: 'a' | 'b'): string => {
      const d = join(dir, `hb-${name}`)
      mkdirSync(d, { recursive: true })
      writeFileSync(
        join(d, 'ha.cf'),
        [
          'keepalive 100ms',
          'deadtime 1',
          'warntime 500ms',
          'initdead 3',
          'udpport 694',
          'bcast eth0',
          `ucast eth1 ${HB.a}`,
          `ucast eth1 ${HB.b}`,
          'node a b',
          'auto_failback off',
          `state_dir ${d}/state`,
          '',
        ].join('\n'),
      )
      writeFileSync(
        join(d, 'authkeys'),
        'auth 1\n1 sha1 dr-cluster-test-authkey\n',
      )
      chmodSync(join(d, 'authkeys'), 0o600)
      writeFileSync(join(d, 'haresources'), `a ${V4.vip}/24/eth0\n`)
      return join(d, 'ha.cf')
    }
    const tmConf = join(dir, 'tmd.conf')
    writeFileSync(
      tmConf,
      [
        `master1 ${V4.a}`,
        `master2 ${V4.b}`,
        ...V4.nodes.map((n, i) => `traffic${i + 1} ${n}`),
        'port 7070',
        'listen 0.0.0.0',
        'timeout 1000',
        `key ${KEY}`,
        'shutdown-deadline 1s',
        `virtual ${V4.vip}:80`,
        '    dataplane nftables-dr',
        ...V4.nodes.map(n => `    node ${n}:80`),
        '',
      ].join('\n'),
    )
    const tmSock = (m: 'a' | 'b') => join(dir, `tm-${m}.sock`)
    const hb = {} as Record<'a' | 'b', Proc>
    const tm = {} as Record<'a' | 'b', Proc>
    for (const m of ['a', 'b'] as const) {
      tm[m] = keep(
        spawnDaemon(
          'traffic-manager',
          [
            '--config',
            tmConf,
            '--control',
            tmSock(m),
            '--metrics',
            '127.0.0.1:0',
          ],
          { netns: ns[m] },
        ),
      )
      hb[m] = keep(
        spawnDaemon(
          'heartbeatd',
          [
            '--config',
            hbConf(m),
            '--node',
            m,
            '--control',
            join(dir, `hb-${m}.sock`),
          ],
          { netns: ns[m] },
        ),
      )
    }
    for (const m of ['a', 'b'] as const)
      await tm[m].waitLog(l => l.msg === 'traffic-manager ready', 30_000)
    await hb.a.waitLog(
      l => l.msg === 'resource holder' && l.holder === 'a',
      20_000,
    )

    // Nodes: web server and traffic-client (equal capacity: equal weights on
    // both masters, so both compute the same Maglev table).
    const clients = {} as Record<'n1' | 'n2' | 'n3', Proc>
    const startNode = async (
      n: 'n1' | 'n2' | 'n3',
      i: number,
    ): Promise<void> => {
      await lab.server(n)
      const d = join(dir, n)
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
          `master1 ${V4.a}`,
          `master2 ${V4.b}`,
          'port 7070',
          'updates 200',
          `key ${KEY}`,
          `node ${V4.nodes[i]}`,
          '',
        ].join('\n'),
      )
      clients[n] = keep(
        spawnDaemon(
          'traffic-client',
          [
            '--config',
            join(d, 'tcd.conf'),
            '--procfs',
            join(d, 'proc'),
            '--control',
            join(dir, `${n}.sock`),
          ],
          { netns: ns[n] },
        ),
      )
    }
    const status = (m: 'a' | 'b') =>
      controlRequest(tmSock(m), 'status') as Promise<StatusSnapshot>
    const until = (
      m: 'a' | 'b',
      what: string,
      pred: (s: StatusSnapshot) => boolean,
    ): Promise<StatusSnapshot> =>
      waitFor(
        async () => {
          const s = await status(m)
          return pred(s) && s
        },
        {
          what: `traffic-manager ${m}: ${what}`,
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      )
    const eligible = (s: StatusSnapshot) =>
      (s.services[0]?.nodes ?? [])
        .filter(n => n.eligible)
        .map(n => n.address)
        .sort()
    const programmed = (m: 'a' | 'b', nodes: number) => (l: LogLine) =>
      l.msg === 'direct-routing table programmed' &&
      Array.isArray(l.nodes) &&
      l.nodes.length === nodes
    await startNode('n1', 0)
    await startNode('n2', 1)
    for (const m of ['a', 'b'] as const) {
      await until(m, 'n1 and n2 eligible', s => eligible(s).length === 2)
      await tm[m].waitLog(programmed(m, 2))
    }

    const answers = new Set<string>()
    for (let i = 0; i < 20; i++) answers.add(await lab.curl())
    t.same(
      [...answers].sort(),
      ['n1', 'n2'],
      'HTTP through the VIP, both nodes answer',
    )

    const s = await streams(lab, 200)
    const first = await s.round()
    t.equal(first.filter(n => n === null).length, 0, '200 streams open')
    const st = await status('a')
    const rows = st.services[0]?.nodes ?? []
    const flows = rows.reduce((a, n) => a + n.active, 0)
    t.ok(
      flows >= 200,
      `status on the active master: ${flows} pinned flows from the kernel`,
    )
    t.ok(
      rows.every(n =>
        n.eligible
          ? (n.packets ?? 0) > 0 && n.bytesIn > 0 && n.total > 0
          : true,
      ),
      'packets, bytes and new flows per node from kernel counters',
    )
    t.equal(
      rows.reduce((a, n) => a + n.bytesOut, 0),
      0,
      'no reply byte counted on the master',
    )
    // The same kernel counters in /metrics (scraped inside the master's namespace).
    const listen = String(
      tm.a.logs.find(l => l.msg === 'metrics listener up')?.listen,
    )
    const metrics = (
      await run('ip', [
        'netns',
        'exec',
        ns.a,
        'curl',
        '-s',
        '--max-time',
        '5',
        `http://${listen}/metrics`,
      ])
    ).stdout
    const series = (name: string, node: string): number => {
      const m = new RegExp(
        `^${name}\\{service="[^"]*",node="${node.replace(/\./g, '\\.')}"\\} (\\S+)$`,
        'm',
      ).exec(metrics)
      return m ? Number(m[1]) : NaN
    }
    for (const row of rows.filter(n => n.eligible)) {
      t.ok(
        series('tm_backend_packets_total', row.address) > 0,
        `/metrics: packets of ${row.address}`,
      )
      t.ok(
        series('tm_backend_bytes_in_total', row.address) > 0,
        `/metrics: bytes in of ${row.address}`,
      )
      t.ok(
        series('tm_backend_connections_total', row.address) > 0,
        `/metrics: new flows of ${row.address}`,
      )
      t.ok(
        series('tm_backend_active_connections', row.address) > 0,
        `/metrics: pinned flows of ${row.address}`,
      )
      t.equal(
        series('tm_backend_bytes_out_total', row.address),
        0,
        `/metrics: no reply bytes of ${row.address} on the master`,
      )
    }

    // Failover by heartbeatd: master a stops (graceful), b takes the VIP.
    await hb.a.stop('SIGTERM')
    await hb.b.waitLog(
      l => l.msg === 'resource holder' && l.holder === 'b',
      20_000,
    )
    // Master a is gone from the wire altogether.
    await lab.lab.ip(ns.a, ['link', 'set', 'eth0', 'down'])
    t.same(
      await s.round(),
      first,
      'after the heartbeatd failover every stream reaches its node through b (no conn-syncd)',
    )

    // A node joins: pinned streams stay.
    await startNode('n3', 2)
    await until('b', 'n3 eligible', x => eligible(x).length === 3)
    await tm.b.waitLog(programmed('b', 3))
    t.same(await s.round(), first, 'a node joining moved no stream')
    // A weight change by the operator.
    await controlRequest(tmSock('b'), 'weight', [
      `${V4.vip}:80`,
      V4.nodes[0] as string,
      '40',
    ])
    await until('b', 'weight 40', x => x.services[0]?.nodes[0]?.weight === 40)
    t.same(await s.round(), first, 'a weight change moved no stream')

    // n2 dies (web server and traffic-client): only its streams are lost.
    await clients.n2.stop('SIGKILL')
    const web2 = lab.procs.find(p => p.child.spawnargs.includes('n2')) as Proc
    await web2.stop('SIGKILL')
    await until(
      'b',
      'n2 gone',
      x => !eligible(x).includes(V4.nodes[1] as string),
    )
    await tm.b.waitLog(programmed('b', 2))
    const after = await s.round()
    const lost = after.map((n, i) => (n === null ? i : -1)).filter(i => i >= 0)
    t.same(
      lost,
      first.map((n, i) => (n === 'n2' ? i : -1)).filter(i => i >= 0),
      `lost exactly n2's streams (${tally(first).n2})`,
    )
    t.same(
      after.filter(n => n !== null),
      first.filter(n => n !== 'n2'),
      'the others are untouched',
    )
    s.p.child.stdin?.end()
    for (const m of ['a', 'b'] as const) await tm[m].stop('SIGTERM')
  },
)
