// The main process's copy of the proxy workers' affinity tables (what
// persist-list, tm_persist_* and a replacement worker read): it follows the
// workers' entries, keeps the same LRU cap, counts evictions, and is what
// a replaced worker is given, so clients keep their node across a worker
// crash.
import t from 'tap'
import { request } from 'node:http'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import {
  startBackend,
  Reporter,
  startTm,
  writeConf,
  until,
  type Backend,
} from './helpers/lab.js'
import { portOf } from '@has/test-support'

const KEY = 'integration-test-key-0007'
const NODES = ['127.0.0.41', '127.0.0.42']
const CLIENTS = ['127.0.0.51', '127.0.0.52', '127.0.0.53']
// A fixed port: with port 0, a replaced sole worker would bind a new one.
const PORT = await new Promise<number>(resolve => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const port = portOf(probe)
    probe.close(() => resolve(port))
  })
})
const SVC = `127.0.0.1:${PORT}`

/** One request on a fresh connection from a given source address. */
function getFrom(
  target: { host: string; port: number },
  localAddress: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        localAddress,
        agent: false,
        headers: { connection: 'close' },
      },
      res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', d => (body += d))
        res.on('end', () => resolve(body.trim()))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

type Entry = { service: string; client: string; node: string }

t.test(
  "the main process's affinity copy: capped, counted, replayed to a replaced worker",
  async t => {
    const backends: Backend[] = []
    for (const a of NODES) backends.push(await startBackend(a))
    t.teardown(() => Promise.all(backends.map(b => b.close().catch(() => {}))))
    const conf = writeConf(
      t.testdir({}),
      [
        ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
        'listen 127.0.0.1',
        'port 0',
        'timeout 60000',
        `key ${KEY}`,
        'workers 1',
        `virtual ${SVC}`,
        '  scheduler rr',
        '  persistent 600',
        '  persistent-max 2',
        ...backends.map(b => `  node ${b.address}:${b.port}`),
        '',
      ].join('\n'),
    )
    const tm = await startTm(conf, ['--metrics', '127.0.0.1:0'])
    t.teardown(() => tm.proc.stop())
    const reporters = NODES.map(n => new Reporter(n, tm.reports, KEY))
    t.teardown(() => reporters.forEach(r => r.close()))
    for (const r of reporters) r.send()
    await until(
      tm,
      s => s.services[0]!.nodes.every(n => n.eligible),
      'all eligible',
    )
    const vip = tm.vip.get(SVC)!

    const served: Record<string, string> = {}
    for (const c of CLIENTS) served[c] = await getFrom(vip, c)
    // Entries reach the main process by IPC after the connection is placed.
    const list = async (): Promise<Entry[]> =>
      (await tm.ctl('persist-list', [SVC])) as Entry[]
    const end = Date.now() + 10_000
    let entries = await list()
    while (!entries.some(e => e.client === CLIENTS[2])) {
      if (Date.now() > end)
        throw new Error(
          `timed out waiting for ${CLIENTS[2]} in persist-list: ${JSON.stringify(entries)}`,
        )
      await new Promise(r => setTimeout(r, 25))
      entries = await list()
    }
    t.same(
      entries.map(e => [e.client, e.node]).sort(),
      CLIENTS.slice(1).map(c => [c, served[c]]),
      'the copy holds the two newest clients (persistent-max 2), each with its node',
    )
    const metricsLine = tm.proc.logs.find(l => l.msg === 'metrics listener up')
    const text = await (
      await fetch(`http://${String(metricsLine?.listen)}/metrics`)
    ).text()
    t.match(
      text,
      /# TYPE tm_persist_evictions_total counter/,
      'evictions are a counter',
    )
    t.ok(
      text.includes(`tm_persist_evictions_total{service="${SVC}"} 1\n`),
      'one eviction counted',
    )
    t.ok(
      text.includes(`tm_persist_entries{service="${SVC}"} 2\n`),
      'two entries held',
    )

    // Pin both remembered clients to one node, then replace the worker: a new
    // worker without the copy would alternate them (rr) over both nodes.
    const pinned = NODES[0] as string
    for (const c of CLIENTS.slice(1))
      await tm.ctl('persist-set', [SVC, c, pinned, '600'])
    // The worker is a child of the traffic-manager this test started.
    const children = execFileSync(
      'ps',
      ['-o', 'pid=,args=', '--ppid', String(tm.proc.pid)],
      { encoding: 'utf8' },
    )
    const workerPid = Number(
      /^\s*(\d+)\s.*proxy-worker\.js/m.exec(children)?.[1] ?? NaN,
    )
    t.ok(
      Number.isInteger(workerPid) && workerPid !== tm.proc.pid,
      `found the worker's pid (${workerPid})`,
    )
    const before = tm.proc.logs.length
    process.kill(workerPid, 'SIGKILL')
    await tm.proc.waitLog(
      l =>
        l.msg === 'proxy worker died; starting another' &&
        tm.proc.logs.indexOf(l) >= before,
    )
    // Served again once the replacement has joined (bounded). The probe is a
    // remembered client: a new one would take a slot of the capped table.
    const back = Date.now() + 20_000
    for (;;) {
      const ok = await getFrom(vip, CLIENTS[2] as string).then(
        b => {
          t.equal(
            b,
            pinned,
            `${String(CLIENTS[2])} keeps its node on its first connection to the new worker`,
          )
          return true
        },
        () => false,
      )
      if (ok) break
      if (Date.now() > back)
        throw new Error('timed out waiting for the replacement worker to serve')
      await new Promise(r => setTimeout(r, 50))
    }
    for (const c of CLIENTS.slice(1)) {
      for (let i = 0; i < 3; i++)
        t.equal(
          await getFrom(vip, c),
          pinned,
          `${c} keeps its node after the worker was replaced`,
        )
    }
  },
)
