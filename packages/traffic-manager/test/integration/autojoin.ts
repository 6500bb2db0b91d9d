// Issue 17.6: nodes that join by themselves. Real traffic-clients (not
// listed in tmd.conf) report with the shared key from loopback addresses in
// the service's autojoin range; the service uses them, `status` marks them
// auto, one that dies leaves on timeout, and one with a wrong key is
// refused and counted.
import t from 'tap'
import { createServer } from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnDaemon, type Proc, portOf } from '@has/test-support'
import {
  startBackend,
  startTm,
  writeConf,
  get,
  until,
  nodeOf,
  type Backend,
} from './helpers/lab.js'

const { writeProcfsFixture } = (await import(
  new URL('../../../traffic-client/dist/procfs-fixture.js', import.meta.url)
    .href
)) as { writeProcfsFixture: (dir: string, f: Record<string, number>) => string }

const KEY = 'autojoin-test-report-key-0001'
const AUTO = ['127.0.0.91', '127.0.0.92']
const STRANGER = '127.0.0.93'
// Auto-joined nodes are reached on the VIP's port: pick one free on all.
const PORT = await new Promise<number>(resolve => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const port = portOf(probe)
    probe.close(() => resolve(port))
  })
})
const SVC = `127.0.0.1:${PORT}`

t.test(
  'unlisted nodes with keyed reports in the autojoin range join, serve and leave on timeout',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-aj-'))
    const backends: Backend[] = []
    for (const a of [...AUTO, STRANGER])
      backends.push(await startBackend(a, PORT))
    t.teardown(() => Promise.all(backends.map(b => b.close().catch(() => {}))))
    const conf = writeConf(
      t.testdir({}),
      [
        'listen 127.0.0.1',
        'port 0',
        'timeout 1000',
        `key ${KEY}`,
        'workers 0',
        'autojoin-max 4',
        `virtual ${SVC}`,
        '  scheduler rr',
        '  autojoin 127.0.0.88/29',
        '',
      ].join('\n'),
    )
    const tm = await startTm(conf, ['--metrics', '127.0.0.1:0'])
    t.teardown(() => tm.proc.stop())
    const clients: Record<string, Proc> = {}
    const startClient = async (node: string, key: string): Promise<Proc> => {
      const proc = join(dir, `proc-${node}`)
      writeProcfsFixture(proc, {
        bogomips: 4000,
        cpus: 2,
        memTotalMB: 2048,
        memFreeMB: 1536,
        idleShare: 0.9,
      })
      const c = join(dir, `tcd-${node}.conf`)
      writeFileSync(
        c,
        [
          `master1 ${tm.reports.host}`,
          `port ${tm.reports.port}`,
          'updates 150',
          `node ${node}`,
          `key ${key}`,
          '',
        ].join('\n'),
      )
      const p = spawnDaemon('traffic-client', [
        '-c',
        c,
        '--procfs',
        proc,
        '--control',
        join(dir, `tc-${node}.sock`),
      ])
      t.teardown(() => p.stop('SIGKILL'))
      await p.waitLog(l => l.msg === 'started', 30_000)
      clients[node] = p
      return p
    }
    for (const n of AUTO) await startClient(n, KEY)
    await startClient(STRANGER, 'a-different-report-key-99')

    const s = await until(
      tm,
      x => AUTO.every(n => nodeOf(x, SVC, n)?.eligible === true),
      'both auto nodes eligible',
    )
    t.same(
      s.services[0]?.nodes.map(n => [n.address, n.port, n.auto]),
      AUTO.map(n => [n, PORT, true]),
      'status lists them, marked auto, on the VIP port',
    )
    t.notOk(
      nodeOf(s, SVC, STRANGER),
      'the node with the wrong key did not join',
    )
    const joined = tm.proc.logs
      .filter(l => l.msg === 'node joined by itself (autojoin)')
      .map(l => l.node)
    t.same(joined.sort(), AUTO, 'each join logged')
    const served = new Set<string>()
    for (let i = 0; i < 6; i++)
      served.add(await get({ host: '127.0.0.1', port: PORT }))
    t.same([...served].sort(), AUTO, 'both serve')
    const st = await tm.status()
    t.ok(
      (st.reports.dropped.TM_ERR_REPORT_MAC ?? 0) > 0,
      'the wrong key is dropped and counted',
    )

    // A node that dies leaves on timeout, like a listed one.
    await clients[AUTO[1] as string]?.stop('SIGKILL')
    await tm.proc.waitLog(
      l =>
        l.msg === 'auto-joined node silent past timeout; left' &&
        l.node === AUTO[1],
      10_000,
    )
    const after = await until(
      tm,
      x => nodeOf(x, SVC, AUTO[1] as string) === undefined,
      'node 2 gone from status',
    )
    t.same(
      after.services[0]?.nodes.map(n => n.address),
      [AUTO[0]],
    )
    for (let i = 0; i < 4; i++)
      t.equal(
        await get({ host: '127.0.0.1', port: PORT }),
        AUTO[0],
        'the remaining node serves',
      )

    const metricsLine = tm.proc.logs.find(l => l.msg === 'metrics listener up')
    const text = await (
      await fetch(`http://${String(metricsLine?.listen)}/metrics`)
    ).text()
    t.match(text, /tm_autojoin_total\{event="join"\} 2\n/)
    t.match(text, /tm_autojoin_total\{event="leave"\} 1\n/)
    t.match(
      text,
      /tm_autojoin_total\{event="refused"\} [1-9]\d*\n/,
      'the stranger is counted as refused',
    )
  },
)
