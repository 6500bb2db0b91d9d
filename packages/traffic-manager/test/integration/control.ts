// Drain, forged/replayed reports, the control commands, status output,
// IPv6, SIGTERM drain, and config checks through the real binary.
import t from 'tap'
import { startBackend, Reporter, startTm, writeConf, get, hold, until, nodeOf, type Backend } from './helpers/lab.js'
import { runBin } from '../../../../test/helpers/daemon.js'

const KEY = 'integration-test-key-0002'
const NODES = ['127.0.0.21', '127.0.0.22']
const SVC = '127.0.0.1:0'
const SVC6 = '[::1]:0'

async function lab(t: Tap.Test, workers: number) {
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
      `workers ${workers}`,
      'shutdown-deadline 10s',
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
  await until(tm, s => s.services.every(v => v.nodes.every(n => n.eligible)), 'all eligible')
  return { backends, conf, tm, reporters }
}

t.test('drain moves new connections away while an open one finishes', async t => {
  const { backends, tm, reporters } = await lab(t, 1)
  const vip = tm.vip.get(SVC)!
  // Pin the held connection on node 1: quiesce node 2 for a moment.
  reporters[1]!.send({ state: 'drain' })
  await until(tm, s => nodeOf(s, SVC, NODES[1]!)?.eligible === false, 'node 2 drained')
  const open = await hold(vip)
  await until(tm, s => nodeOf(s, SVC, NODES[0]!)?.active === 1, 'held connection on node 1')
  reporters[1]!.send({ state: 'up' })
  reporters[0]!.send({ state: 'drain' })
  await until(tm, s => nodeOf(s, SVC, NODES[0]!)?.weight === 0 && nodeOf(s, SVC, NODES[1]!)?.eligible === true, 'node 1 drained')
  for (let i = 0; i < 10; i++) t.equal(await get(vip), NODES[1], `new connection ${i} goes to node 2`)
  t.equal(backends[0]!.held.length, 1, 'the open request is still waiting on node 1')
  backends[0]!.held.shift()!()
  t.equal(await open.body, NODES[0], 'the open connection finished on the drained node')
  await until(tm, s => nodeOf(s, SVC, NODES[0]!)?.active === 0, 'node 1 idle')
  // Load 0 quiesces just like drain.
  reporters[0]!.send({ state: 'up', load: 1000 })
  reporters[1]!.send({ state: 'up', load: 0 })
  await until(tm, s => nodeOf(s, SVC, NODES[1]!)?.eligible === false, 'load 0 quiesces')
  for (let i = 0; i < 5; i++) t.equal(await get(vip), NODES[0])
})

t.test('a forged or replayed report changes nothing; drops are counted', async t => {
  const { tm, reporters } = await lab(t, 0)
  const before = await tm.status()
  const r = reporters[0]!
  const captured = r.sent[0]!
  r.send({ state: 'down', key: 'forged-key-forged-key' })
  r.raw(captured.replace(/ mac=.*/, '').replace(' up ', ' down '))
  r.raw(captured)
  r.raw('LOAD 1 127.0.0.99 5 up tc 1 1')
  r.raw('garbage')
  await until(tm, s => Object.values(s.reports.dropped).reduce((a, b) => a + b, 0) >= 5, 'five drops')
  const after = await tm.status()
  t.same(after.nodes, before.nodes.map(n => ({ ...n, lastReportAgeMs: after.nodes.find(x => x.address === n.address)?.lastReportAgeMs })), 'table unchanged')
  t.match(after.reports.dropped, {
    TM_ERR_REPORT_MAC: 2,
    TM_ERR_REPORT_REPLAY: 1,
    TM_ERR_REPORT_UNKNOWN_NODE: 1,
    TM_ERR_REPORT_SYNTAX: 1,
  })
  const metricsLine = tm.proc.logs.find(l => l.msg === 'metrics listener up')
  const text = await (await fetch(`http://${String(metricsLine?.listen)}/metrics`)).text()
  t.match(text, /tm_reports_dropped_total\{reason="TM_ERR_REPORT_MAC"\} 2/)
  t.match(text, /tm_node_up\{node="127.0.0.21"\} 1/)
})

t.test('status, weight and persistence commands; IPv6 virtual service', async t => {
  const { tm } = await lab(t, 1)
  const st = await runBin('traffic-manager', ['status', '--control', tm.control])
  t.equal(st.code, 0)
  t.match(st.stdout, /TCP\s+127\.0\.0\.1:0\s+wrr \(proxy, persistent 60s\)/)
  t.match(st.stdout, /-> 127\.0\.0\.21:\d+\s+up\s+1000\s+256/)
  t.match(st.stdout, /ActiveConn/)
  const js = await runBin('traffic-manager', ['status', '--json', '--control', tm.control])
  t.equal(JSON.parse(js.stdout).services.length, 2)

  // IPv6 front, IPv4 nodes.
  const v6 = tm.vip.get(SVC6)!
  t.equal(v6.host, '::1')
  t.ok(NODES.includes(await get(v6)), 'served over ::1')

  // Manual weight: 0 quiesces node 1 although its reports say up.
  t.match(await tm.ctl('weight', [SVC6, NODES[0]!, '0']), { weight: 0, source: 'manual' })
  for (let i = 0; i < 5; i++) t.equal(await get(v6), NODES[1])
  t.match(await tm.ctl('weight', [SVC6, NODES[0]!, 'auto']), { weight: 256, source: 'auto' })
  await t.rejects(tm.ctl('weight', [SVC6, NODES[0]!, '300']), { code: 'TM_ERR_BAD_ARGUMENT' })
  await t.rejects(tm.ctl('weight', ['nope:1', NODES[0]!, '3']), { code: 'TM_ERR_UNKNOWN_SERVICE' })
  await t.rejects(tm.ctl('weight', [SVC6, '10.9.9.9', '3']), { code: 'TM_ERR_UNKNOWN_NODE' })
  const cli = await runBin('traffic-manager', ['weight', SVC6, NODES[1]!, '17', '--control', tm.control])
  t.equal(cli.code, 0, cli.stderr)
  t.match(JSON.parse(cli.stdout), { weight: 17 })

  // Persistence: a client sticks to its node; persist-set preloads one.
  const vip = tm.vip.get(SVC)!
  const first = await get(vip)
  for (let i = 0; i < 4; i++) t.equal(await get(vip), first, 'same client, same node')
  const list = (await tm.ctl('persist-list', [SVC])) as { service: string; client: string; node: string; expiresInMs: number }[]
  t.match(list, [{ service: SVC, client: '127.0.0.1', node: first }])
  const other = NODES.find(n => n !== first)!
  t.match(await tm.ctl('persist-set', [SVC, '127.0.0.1', other, '30']), { node: other, expiresInMs: 30000 })
  t.equal(await get(vip), other, 'preloaded entry wins')
  await t.rejects(tm.ctl('persist-set', [SVC, 'not-ip', other, '30']), { code: 'TM_ERR_BAD_ARGUMENT' })
  await t.rejects(tm.ctl('persist-set', [SVC, '127.0.0.1', other]), { code: 'TM_ERR_BAD_ARGUMENT' })
  t.same(await tm.ctl('persist-list', [SVC6]), [], 'no persistence on the other service')
})

t.test('SIGTERM stops accepting and lets an open connection finish', async t => {
  const { backends, tm } = await lab(t, 1)
  const vip = tm.vip.get(SVC)!
  const open = await hold(vip)
  await until(tm, s => s.services[0]!.nodes.some(n => n.active === 1), 'connection open')
  const owner = backends.find(b => b.held.length === 1) ?? (await new Promise<Backend>(r => setTimeout(() => r(backends.find(b => b.held.length === 1)!), 100)))
  tm.proc.child.kill('SIGTERM')
  await tm.proc.waitLog(l => l.msg === 'shutting down')
  await t.rejects(get(vip), 'new connections are refused while draining')
  owner.held.shift()!()
  t.equal(await open.body, owner.address, 'the open connection completed')
  t.equal(await tm.proc.exited, 0, 'exit 0 after the drain')
})

t.test('config errors exit 3 with file:line', async t => {
  const dir = t.testdir({
    'bad.conf': 'traffic1 127.0.0.11\nport 99999\n',
    'dp.conf': 'traffic1 127.0.0.11\nvirtual 127.0.0.1:80\n  dataplane ebpf\n  node 127.0.0.11\n',
  })
  const bad = await runBin('traffic-manager', ['--check-config', '-c', `${dir}/bad.conf`])
  t.equal(bad.code, 3)
  t.match(bad.stderr, /bad\.conf:2: port must be 0\.\.65535 \(got "99999"\)/)
  const dp = await runBin('traffic-manager', ['--check-config', '-c', `${dir}/dp.conf`])
  t.equal(dp.code, 3)
  t.match(dp.stderr, /dp\.conf:3: dataplane must be one of proxy, nftables \(got "ebpf"\)/)
  const run = await runBin('traffic-manager', ['-c', `${dir}/bad.conf`, '--control', `${dir}/c.sock`])
  t.equal(run.code, 3, 'the daemon refuses to start too')
  const ver = await runBin('traffic-manager', ['--version'])
  t.match(ver.stdout, /^\d+\.\d+\.\d+/)
  const usage = await runBin('traffic-manager', ['--bogus'])
  t.equal(usage.code, 2)
})
