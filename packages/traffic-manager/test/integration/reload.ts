// Issue 18.1: a reload applies completely or not at all, and says which; a
// service whose address does not change keeps its listener. The real
// binary, proxy workers, SIGHUP, and a port held by another process.
import t, { type Test } from 'tap'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import {
  startBackend,
  Reporter,
  startTm,
  writeConf,
  get,
  hold,
  until,
  type Backend,
} from './helpers/lab.js'
import { portOf } from '@has/test-support'

const KEY = 'integration-test-key-0003'
const NODES = ['127.0.0.51', '127.0.0.52']

async function lab(t: Test) {
  const backends: Backend[] = []
  for (const a of NODES) backends.push(await startBackend(a))
  t.teardown(() => Promise.all(backends.map(b => b.close().catch(() => {}))))
  const text = (vip: string, scheduler: string, workers: number) =>
    [
      ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
      'listen 127.0.0.1',
      'port 0',
      'timeout 60000',
      `key ${KEY}`,
      `workers ${workers}`,
      'shutdown-deadline 5s',
      `virtual ${vip}`,
      `  scheduler ${scheduler}`,
      ...backends.map(b => `  node ${b.address}:${b.port}`),
      '',
    ].join('\n')
  return { backends, text }
}

async function up(t: Test, conf: string) {
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
  return tm
}

t.test(
  'a service moved to a port another process holds: reload rejected, old listener kept, logged truthfully',
  async t => {
    const { text } = await lab(t)
    const blocker = createServer()
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    t.teardown(() => new Promise(r => blocker.close(r)))
    const held = portOf(blocker)
    const conf = writeConf(t.testdir({}), text('127.0.0.1:0', 'wrr', 1))
    const tm = await up(t, conf)
    const vip = tm.vip.get('127.0.0.1:0')!
    t.ok(NODES.includes(await get(vip)), 'serving before the reload')

    writeFileSync(conf, text(`127.0.0.1:${held}`, 'wrr', 1))
    const logsBefore = tm.proc.logs.length
    tm.proc.child.kill('SIGHUP')
    const rejected = await tm.proc.waitLog(
      l => l.msg === 'reload rejected; keeping the last good configuration',
    )
    t.equal(rejected.code, 'TM_ERR_LISTEN', 'the error names the failed bind')
    t.match(JSON.stringify(rejected.err), /EADDRINUSE/)
    const after = tm.proc.logs.slice(logsBefore)
    t.notOk(
      after.some(l => l.msg === 'configuration reloaded'),
      'never logged as reloaded',
    )
    t.notOk(
      after.some(
        l => l.msg === 'virtual service removed; its open connections finish',
      ),
      'the old service was not taken down',
    )
    const s = await tm.status()
    t.same(
      s.services.map(v => v.name),
      ['127.0.0.1:0'],
      'status shows the running config',
    )
    for (let i = 0; i < 4; i++)
      t.ok(NODES.includes(await get(vip)), `old listener still serves (${i})`)

    // Once the port is free the same file applies.
    await new Promise(r => blocker.close(r))
    tm.proc.child.kill('SIGHUP')
    await tm.proc.waitLog(l => l.msg === 'configuration reloaded')
    t.ok(
      NODES.includes(await get({ host: '127.0.0.1', port: held })),
      'the new address serves',
    )
    // The old listener closes asynchronously (IPC to the worker): poll, bounded.
    let refused = false
    for (let i = 0; i < 200 && !refused; i++) {
      refused = await get(vip).then(
        () => false,
        () => true,
      )
      if (!refused) await new Promise(r => setTimeout(r, 25))
    }
    t.ok(refused, 'the old address is closed')
  },
)

t.test(
  'a reload that changes only the scheduler keeps the listener; connections carry on',
  async t => {
    const { backends, text } = await lab(t)
    const conf = writeConf(t.testdir({}), text('127.0.0.1:0', 'wrr', 2))
    const tm = await up(t, conf)
    const vip = tm.vip.get('127.0.0.1:0')!
    const open = await hold(vip)
    await until(
      tm,
      s => s.services[0]!.nodes.some(n => n.active === 1),
      'a held connection',
    )
    const schedulers = ['lc', 'rr', 'p2c', 'wlc', 'has', 'wrr']
    for (const [i, scheduler] of schedulers.entries()) {
      writeFileSync(conf, text('127.0.0.1:0', scheduler, 2))
      const n = tm.proc.logs.length
      tm.proc.child.kill('SIGHUP')
      await tm.proc.waitLog(
        l => l.msg === 'configuration reloaded' && tm.proc.logs.indexOf(l) >= n,
      )
      const s = await tm.status()
      t.equal(
        s.services[0]!.scheduler,
        scheduler,
        `reload ${i + 1}: ${scheduler} applied`,
      )
      const news = tm.proc.logs.slice(n)
      t.ok(
        news.some(l => l.msg === 'virtual service reconfigured; listener kept'),
        `reload ${i + 1}: reconfigured in place`,
      )
      t.notOk(
        news.some(l => l.msg === 'virtual service up'),
        `reload ${i + 1}: no listener reopened`,
      )
      // Same port (no rebind): the address the first bind got still serves.
      for (let k = 0; k < 3; k++)
        t.ok(NODES.includes(await get(vip)), `reload ${i + 1}: serving (${k})`)
    }
    const owner = backends.find(b => b.held.length === 1)
    t.ok(owner, 'the held request reached a node')
    owner!.held.shift()!()
    t.equal(
      await open.body,
      owner!.address,
      'the connection open across six reloads completed',
    )
  },
)
