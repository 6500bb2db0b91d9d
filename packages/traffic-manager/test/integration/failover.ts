// A node that stops reporting leaves; a dead node costs clients nothing; a
// restarted traffic-manager rebuilds its table from the reports.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import {
  startBackend,
  Reporter,
  startTm,
  writeConf,
  get,
  until,
  nodeOf,
  type Backend,
} from './helpers/lab.js'

const KEY = 'integration-test-key-0001'
const NODES = ['127.0.0.11', '127.0.0.12', '127.0.0.13']

async function lab(
  t: Test,
  opts: { workers: number; timeout: number; scheduler?: string },
) {
  const backends: Backend[] = []
  for (const a of NODES) backends.push(await startBackend(a))
  t.teardown(() => Promise.all(backends.map(b => b.close().catch(() => {}))))
  const dir = t.testdir({})
  const conf = writeConf(
    dir,
    [
      ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
      'listen 127.0.0.1',
      'port 0',
      `timeout ${opts.timeout}`,
      `key ${KEY}`,
      `workers ${opts.workers}`,
      'shutdown-deadline 5s',
      'virtual 127.0.0.1:0',
      `  scheduler ${opts.scheduler ?? 'wrr'}`,
      '  connect-timeout 1s',
      ...backends.map(b => `  node ${b.address}:${b.port}`),
      '',
    ].join('\n'),
  )
  return { backends, conf }
}

/** The lab serving: traffic-manager up, every node reporting and eligible. */
async function serving(
  t: Test,
  opts: { workers: number; timeout: number; scheduler?: string },
) {
  const { backends, conf } = await lab(t, opts)
  const tm = await startTm(conf)
  t.teardown(() => tm.proc.stop())
  const reporters = NODES.map(n => new Reporter(n, tm.reports, KEY))
  t.teardown(() => reporters.forEach(r => r.close()))
  for (const r of reporters) r.every(150)
  await until(
    tm,
    s => s.services[0]!.nodes.every(n => n.eligible),
    'all nodes eligible',
  )
  return { backends, conf, tm, reporters, vip: tm.vip.get('127.0.0.1:0')! }
}

t.test(
  'a node that stops reporting leaves within timeout and no request fails',
  async t => {
    const { backends, tm, reporters, vip } = await serving(t, {
      workers: 1,
      timeout: 800,
    })

    // The node dies: its web server and its traffic-client go together.
    let stop = false
    // A request already on node 3 when it dies fails with any TCP proxy; the
    // claim is about the ones after: connects to the dead node are retried.
    let deadAt = Infinity
    let failures = 0
    let inFlightFailures = 0
    let done = 0
    const seen = new Set<string>()
    const loop = (async () => {
      while (!stop) {
        const startedAt = Date.now()
        try {
          seen.add(await get(vip))
          done++
        } catch {
          if (startedAt > deadAt) failures++
          else inFlightFailures++
        }
      }
    })()
    await until(
      tm,
      s => (nodeOf(s, '127.0.0.1:0', '127.0.0.13')?.total ?? 0) > 0,
      'traffic to node 3',
    )
    reporters[2]!.stop()
    const stoppedAt = Date.now()
    await backends[2]!.close()
    deadAt = Date.now()
    const left = await tm.proc.waitLog(
      l =>
        l.msg === 'node silent past timeout; removed' &&
        l.node === '127.0.0.13',
    )
    t.ok(left, 'node 3 left the table')
    t.comment(
      `left ${Date.parse(String(left.time)) - stoppedAt} ms after its last report (timeout 800 ms)`,
    )
    const after = done
    await until(tm, () => done > after + 30, 'requests after removal')
    stop = true
    await loop
    t.equal(
      failures,
      0,
      `no request started after node 3 died failed (${done} done)`,
    )
    if (inFlightFailures)
      t.comment(
        `${inFlightFailures} request(s) in flight on node 3 when it died failed`,
      )
    t.ok(seen.has('127.0.0.11') && seen.has('127.0.0.12'), 'the others served')
    const s = await tm.status()
    t.equal(nodeOf(s, '127.0.0.1:0', '127.0.0.13')?.state, 'timeout')
    t.equal(nodeOf(s, '127.0.0.1:0', '127.0.0.13')?.eligible, false)

    // It comes back with its next report.
    const again = await startBackend('127.0.0.13', backends[2]!.port)
    t.teardown(() => again.close())
    reporters[2]!.every(150)
    await until(
      tm,
      x => nodeOf(x, '127.0.0.1:0', '127.0.0.13')?.eligible === true,
      'node 3 back',
    )
    t.pass('node 3 is back after its next report')
  },
)

t.test(
  'every node silent at once (the report path lost): the service keeps serving them (fail-static) until a report comes',
  async t => {
    const { conf, tm, reporters, vip } = await serving(t, {
      workers: 1,
      timeout: 600,
    })
    // The web servers stay up; only their reports stop.
    for (const r of reporters) r.stop()
    const entered = await tm.proc.waitLog(
      l => l.level === 40 && String(l.msg).endsWith('(fail-static)'),
    )
    t.same(
      [...(entered.kept as string[])].sort(),
      NODES,
      'the warning names the kept nodes',
    )
    const s = await until(
      tm,
      x => x.services[0]!.failStatic,
      'service in fail-static',
    )
    t.ok(
      s.services[0]!.nodes.every(n => n.state === 'timeout' && n.kept),
      'every node timed out and kept',
    )
    const bodies: string[] = []
    for (let i = 0; i < 12; i++) bodies.push(await get(vip))
    t.equal(bodies.length, 12, 'every request answered while all are silent')
    t.ok(
      bodies.every(b => NODES.includes(b)),
      'by the silent nodes, whose web servers still run',
    )
    // An operator who wants refusals says so; a reload applies it at once,
    // and undoing it brings fail-static back.
    const text = readFileSync(conf, 'utf8')
    writeFileSync(conf, `${text}  fail-static off\n`)
    await tm.ctl('reload')
    await tm.proc.waitLog(l => l.msg === 'fail-static over' && l.serving === 0)
    await until(
      tm,
      x =>
        !x.services[0]!.failStatic &&
        x.services[0]!.nodes.every(n => !n.eligible),
      'fail-static off by reload: no node eligible',
    )
    writeFileSync(conf, text)
    await tm.ctl('reload')
    await until(tm, x => x.services[0]!.failStatic, 'fail-static back on')
    // One report ends it: the reporting node alone serves.
    reporters[1]!.every(150)
    await tm.proc.waitLog(l => l.msg === 'fail-static over' && l.serving === 1)
    const after = await until(
      tm,
      x =>
        !x.services[0]!.failStatic &&
        x.services[0]!.nodes.filter(n => n.eligible).length === 1,
      'fail-static over, one node eligible',
    )
    t.equal(
      after.services[0]!.nodes.find(n => n.eligible)?.address,
      '127.0.0.12',
    )
    for (let i = 0; i < 6; i++) t.equal(await get(vip), '127.0.0.12')
  },
)

t.test(
  'nodes that said down are not kept: the service empties as asked',
  async t => {
    const { tm, reporters } = await serving(t, { workers: 0, timeout: 600 })
    for (const r of reporters) {
      r.stop()
      r.send({ state: 'down' })
    }
    await until(
      tm,
      s => s.services[0]!.nodes.every(n => n.state === 'timeout'),
      'every node timed out after its down report',
    )
    const s = await tm.status()
    t.notOk(s.services[0]!.failStatic, 'no fail-static')
    t.ok(
      s.services[0]!.nodes.every(n => !n.eligible && !n.kept),
      'no node kept',
    )
  },
)

t.test('a dead node at connect time is retried elsewhere', async t => {
  const { backends, conf } = await lab(t, {
    workers: 0,
    timeout: 60_000,
    scheduler: 'rr',
  })
  await backends[0]!.close() // reports say up, but nothing listens
  const tm = await startTm(conf)
  t.teardown(() => tm.proc.stop())
  const reporters = NODES.map(n => new Reporter(n, tm.reports, KEY))
  t.teardown(() => reporters.forEach(r => r.close()))
  for (const r of reporters) r.send()
  await until(
    tm,
    s => s.services[0]!.nodes.every(n => n.eligible),
    'all nodes eligible',
  )
  const vip = tm.vip.get('127.0.0.1:0')!
  const bodies: string[] = []
  for (let i = 0; i < 12; i++) bodies.push(await get(vip))
  t.equal(bodies.length, 12, 'every request answered')
  t.notOk(bodies.includes('127.0.0.11'), 'not by the dead node')
  t.ok(bodies.includes('127.0.0.12') && bodies.includes('127.0.0.13'))
})

t.test(
  'a restarted traffic-manager rebuilds its table from reports within one interval',
  async t => {
    const { conf } = await lab(t, { workers: 0, timeout: 2000 })
    let tm = await startTm(conf)
    const reporters = NODES.map(n => new Reporter(n, tm.reports, KEY))
    t.teardown(() => reporters.forEach(r => r.close()))
    for (const r of reporters) r.every(200)
    await until(
      tm,
      s => s.services[0]!.nodes.every(n => n.eligible),
      'all nodes eligible',
    )
    t.equal(await tm.proc.stop(), 0, 'clean stop')
    // Same report port again, so the running reporters reach the new one.
    const port = tm.reports.port
    writeFileSync(
      conf,
      readFileSync(conf, 'utf8').replace('port 0', `port ${port}`),
    )
    const spawnAt = Date.now()
    tm = await startTm(conf)
    t.teardown(() => tm.proc.stop())
    for (const n of NODES) {
      await tm.proc.waitLog(
        l => l.msg === 'node state changed' && l.node === n && l.state === 'up',
      )
    }
    const last = Math.max(
      ...tm.proc.logs
        .filter(l => l.msg === 'node state changed')
        .map(l => Date.parse(String(l.time))),
    )
    // Reports are taken as soon as the UDP socket is bound, before the
    // services and the control socket are up.
    t.comment(
      `table complete ${last - spawnAt} ms after spawn, Node startup included (report interval 200 ms)`,
    )
    const s = await tm.status()
    t.ok(
      s.services[0]!.nodes.every(n => n.eligible),
      'every node back from reports alone',
    )
    t.equal(
      (await get(tm.vip.get('127.0.0.1:0')!)).startsWith('127.0.0.1'),
      true,
      'serving',
    )
  },
)
