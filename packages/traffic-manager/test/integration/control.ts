// One real traffic-manager (one proxy worker) through a sequence: drain,
// forged/replayed reports, the control commands and status output, IPv6,
// then SIGTERM with a connection open. CLI queries run in-process (main()).
import t from 'tap'
import {
  startBackend,
  Reporter,
  startTm,
  writeConf,
  get,
  hold,
  until,
  nodeOf,
  type Backend,
} from './helpers/lab.js'
import { main } from '../../src/cli.js'

const KEY = 'integration-test-key-0002'
const NODES = ['127.0.0.21', '127.0.0.22']
const SVC = '127.0.0.1:0'
const SVC6 = '[::1]:0'

async function cli(
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await main(['node', 'traffic-manager', ...argv], {
    out: s => void (out += s),
    err: s => void (err += s),
  })
  return { code, out, err }
}

t.test(
  'one daemon through drain, bad reports, commands and SIGTERM',
  async t => {
    const backends: Backend[] = []
    for (const a of NODES) backends.push(await startBackend(a))
    t.teardown(() => Promise.all(backends.map(b => b.close().catch(() => {}))))
    const conf = writeConf(
      t.testdir({}),
      [
        'master1 127.0.0.1',
        ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
        'listen 127.0.0.1',
        'port 0',
        'timeout 60000',
        `key ${KEY}`,
        'workers 1',
        'shutdown-deadline 20s',
        `virtual ${SVC}`,
        '  scheduler wrr',
        '  persistent 60',
        ...backends.map(b => `  node ${b.address}:${b.port}`),
        `virtual ${SVC6}`,
        '  scheduler p2c',
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
      s => s.services.every(v => v.nodes.every(n => n.eligible)),
      'all eligible',
    )
    const vip = tm.vip.get(SVC)!
    const v6 = tm.vip.get(SVC6)!

    await t.test(
      'drain moves new connections away while an open one finishes',
      async t => {
        // Pin the held connection on node 1: quiesce node 2 for a moment.
        reporters[1]!.send({ state: 'drain' })
        await until(
          tm,
          s => nodeOf(s, SVC6, NODES[1]!)?.eligible === false,
          'node 2 drained',
        )
        const open = await hold(v6)
        await until(
          tm,
          s => nodeOf(s, SVC6, NODES[0]!)?.active === 1,
          'held connection on node 1',
        )
        reporters[1]!.send({ state: 'up' })
        reporters[0]!.send({ state: 'drain' })
        await until(
          tm,
          s =>
            nodeOf(s, SVC6, NODES[0]!)?.weight === 0 &&
            nodeOf(s, SVC6, NODES[1]!)?.eligible === true,
          'node 1 drained',
        )
        for (let i = 0; i < 8; i++)
          t.equal(await get(v6), NODES[1], `new connection ${i} goes to node 2`)
        t.equal(
          backends[0]!.held.length,
          1,
          'the open request is still waiting on node 1',
        )
        backends[0]!.held.shift()!()
        t.equal(
          await open.body,
          NODES[0],
          'the open connection finished on the drained node',
        )
        await until(
          tm,
          s => nodeOf(s, SVC6, NODES[0]!)?.active === 0,
          'node 1 idle',
        )
        // Load index 0 is "busy", not a drain: when every node reports it they
        // keep sharing the traffic (issue 18.2: they were all reset).
        reporters[0]!.send({ state: 'up', load: 0 })
        reporters[1]!.send({ state: 'up', load: 0 })
        await until(
          tm,
          s => [0, 1].every(i => nodeOf(s, SVC6, NODES[i]!)?.load === 0),
          'both nodes at load 0',
        )
        const served = new Set<string>()
        for (let i = 0; i < 16; i++) served.add(await get(v6))
        t.same(
          [...served].sort(),
          [...NODES].sort(),
          'both busy nodes still serve; no connection refused',
        )
        const busy = await tm.status()
        t.same(
          [0, 1].map(i => nodeOf(busy, SVC6, NODES[i]!)?.weight),
          [1, 1],
          'equal floor weights',
        )
        reporters[0]!.send({ state: 'up', load: 1000 })
        reporters[1]!.send({ state: 'up', load: 1000 })
        await until(
          tm,
          s => s.services.every(v => v.nodes.every(n => n.eligible)),
          'all eligible again',
        )
      },
    )

    await t.test(
      'a forged or replayed report changes nothing; drops are counted',
      async t => {
        const before = await tm.status()
        const r = reporters[0]!
        const captured = r.sent[0]!
        r.send({ state: 'down', key: 'forged-key-forged-key' })
        r.raw(captured.replace(/ mac=.*/, '').replace(' up ', ' down '))
        r.raw(captured)
        r.raw('LOAD 1 127.0.0.99 5 up tc 1 1')
        r.raw('garbage')
        await until(
          tm,
          s => Object.values(s.reports.dropped).reduce((a, b) => a + b, 0) >= 5,
          'five drops',
        )
        // Issue 18.11: drops reach the log (rate-limited warn), not only metrics.
        const warned = await tm.proc.waitLog(
          l =>
            l.level === 40 &&
            String(l.msg).startsWith('load reports: dropped one'),
        )
        t.equal(
          warned.source,
          '127.0.0.1',
          'the warning names the source address',
        )
        const after = await tm.status()
        const strip = (s: typeof before) =>
          s.nodes.map(n => ({ ...n, lastReportAgeMs: 0 }))
        t.same(strip(after), strip(before), 'table unchanged')
        t.match(after.reports.dropped, {
          TM_ERR_REPORT_MAC: 2,
          TM_ERR_REPORT_REPLAY: 1,
          TM_ERR_REPORT_UNKNOWN_NODE: 1,
          TM_ERR_REPORT_SYNTAX: 1,
        })
        const metricsLine = tm.proc.logs.find(
          l => l.msg === 'metrics listener up',
        )
        const text = await (
          await fetch(`http://${String(metricsLine?.listen)}/metrics`)
        ).text()
        t.match(
          text,
          /tm_reports_dropped_total\{reason="TM_ERR_REPORT_MAC"\} 2/,
        )
        // Counted by the live table from the start, before the metrics
        // module is loaded (issue 18.12); every reason has its series.
        t.match(
          text,
          /tm_reports_dropped_total\{reason="TM_ERR_REPORT_LATE"\} 0/,
        )
        const accepted = /^tm_reports_accepted_total (\d+)$/m.exec(text)
        t.ok(
          Number(accepted?.[1]) >= before.reports.accepted &&
            before.reports.accepted > 0,
          'accepted reports counted since start',
        )
        t.match(text, /tm_node_up\{node="127.0.0.21"\} 1/)
      },
    )

    await t.test('status table, weight override, IPv6 front', async t => {
      const st = await cli(['status', '--control', tm.control])
      t.equal(st.code, 0, st.err)
      t.match(st.out, /TCP\s+127\.0\.0\.1:0\s+wrr \(proxy, persistent 60s\)/)
      t.match(st.out, /-> 127\.0\.0\.21:\d+\s+up\s+1000\s+256/)
      t.match(st.out, /ActiveConn/)
      const js = await cli(['status', '--json', '--control', tm.control])
      t.equal(JSON.parse(js.out).services.length, 2)
      const before = await cli(['--control', tm.control, 'status', '--json'])
      t.equal(
        before.code,
        0,
        `--control before the subcommand works too ${before.err}`,
      )
      t.equal(JSON.parse(before.out).services.length, 2)
      t.equal(v6.host, '::1')
      t.ok(NODES.includes(await get(v6)), 'served over ::1')
      const w = await cli([
        'weight',
        SVC6,
        NODES[0]!,
        '0',
        '--control',
        tm.control,
      ])
      t.equal(w.code, 0, w.err)
      t.match(JSON.parse(w.out), { weight: 0, source: 'manual' })
      for (let i = 0; i < 4; i++)
        t.equal(await get(v6), NODES[1], 'manual 0 quiesces')
      t.match(await tm.ctl('weight', [SVC6, NODES[0]!, 'auto']), {
        weight: 256,
        source: 'auto',
      })
      await t.rejects(tm.ctl('weight', [SVC6, NODES[0]!, '300']), {
        code: 'TM_ERR_BAD_ARGUMENT',
      })
      await t.rejects(tm.ctl('weight', ['nope:1', NODES[0]!, '3']), {
        code: 'TM_ERR_UNKNOWN_SERVICE',
      })
      await t.rejects(tm.ctl('weight', [SVC6, '10.9.9.9', '3']), {
        code: 'TM_ERR_UNKNOWN_NODE',
      })
    })

    await t.test(
      'persistence: a client sticks; persist-set preloads',
      async t => {
        const first = await get(vip)
        for (let i = 0; i < 4; i++)
          t.equal(await get(vip), first, 'same client, same node')
        t.match(await tm.ctl('persist-list', [SVC]), [
          { service: SVC, client: '127.0.0.1', node: first },
        ])
        const other = NODES.find(n => n !== first)!
        t.match(await tm.ctl('persist-set', [SVC, '127.0.0.1', other, '30']), {
          node: other,
          expiresInMs: 30000,
        })
        t.equal(await get(vip), other, 'preloaded entry wins')
        t.match(await tm.ctl('persist-list', []), [
          { service: SVC, client: '127.0.0.1', node: other },
        ])
        await t.rejects(tm.ctl('persist-set', [SVC, 'not-ip', other, '30']), {
          code: 'TM_ERR_BAD_ARGUMENT',
        })
        await t.rejects(tm.ctl('persist-set', [SVC, '127.0.0.1', other]), {
          code: 'TM_ERR_BAD_ARGUMENT',
        })
        t.same(
          await tm.ctl('persist-list', [SVC6]),
          [],
          'no persistence on the other service',
        )
      },
    )

    await t.test(
      'SIGTERM stops accepting and lets an open connection finish',
      async t => {
        const open = await hold(v6)
        const s = await until(
          tm,
          x => (x.services[1]?.nodes ?? []).some(n => n.active === 1),
          'connection open',
        )
        const owner = backends.find(
          b =>
            b.address ===
            s.services[1]!.nodes.find(n => n.active === 1)!.address,
        )!
        tm.proc.child.kill('SIGTERM')
        await tm.proc.waitLog(l => l.msg === 'shutting down')
        // The listeners close asynchronously (IPC to the worker): poll.
        let refused = false
        for (let i = 0; i < 200 && !refused; i++) {
          refused = await get(vip).then(
            () => false,
            () => true,
          )
          if (!refused) await new Promise(r => setTimeout(r, 25))
        }
        t.ok(refused, 'new connections are refused while draining')
        await until(
          {
            ...tm,
            status: async () =>
              ({ services: [{ nodes: [{ n: owner.held.length }] }] }) as never,
          },
          () => owner.held.length === 1,
          'request reached the node',
        )
        owner.held.shift()!()
        t.equal(await open.body, owner.address, 'the open connection completed')
        t.equal(await tm.proc.exited, 0, 'exit 0 after the drain')
      },
    )
  },
)

t.test('config errors exit 3 with file:line (in-process CLI)', async t => {
  const dir = t.testdir({
    'bad.conf': 'traffic1 127.0.0.11\nport 99999\n',
    'dp.conf':
      'traffic1 127.0.0.11\nvirtual 127.0.0.1:80\n  dataplane ebpf\n  node 127.0.0.11\n',
  })
  const bad = await cli(['--check-config', '-c', `${dir}/bad.conf`])
  t.equal(bad.code, 3)
  t.match(bad.err, /bad\.conf:2: port must be 0\.\.65535 \(got "99999"\)/)
  const dp = await cli(['--check-config', '-c', `${dir}/dp.conf`])
  t.equal(dp.code, 3)
  t.match(
    dp.err,
    /dp\.conf:3: dataplane must be one of proxy, nftables[^(]* \(got "ebpf"\)/,
  )
  const run = await cli(['-c', `${dir}/bad.conf`, '--control', `${dir}/c.sock`])
  t.equal(run.code, 3, 'the daemon refuses to start too')
  t.equal((await cli(['--bogus'])).code, 2, 'usage error')
})
