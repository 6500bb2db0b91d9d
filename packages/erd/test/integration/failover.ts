// erd against the real kernel, in namespaces this test makes (root only):
// a TCP stream from the node to the server survives the loss of the
// primary's link, returns to the primary after updelay, and a primary
// flapping faster than updelay never moves the routes back.

import t, { type Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { needsRoot } from '../../../../test/helpers/netns.js'
import { spawnDaemon, runBin, type LogLine, type Proc } from '../../../../test/helpers/daemon.js'
import { buildLab, nsNode, routeDev, txPackets, type Lab } from './lab.js'

const UPDELAY = 1500
const HOLD = 3000
const isSwitch = (to: string) => (l: LogLine) => l.event === 'switch' && l.to === to
/** The n-th (1-based) log line matching pred, waiting for it. */
async function nth(p: Proc, pred: (l: LogLine) => boolean, n: number, timeoutMs = 15_000): Promise<LogLine> {
  await p.waitLog(() => p.logs.filter(pred).length >= n, timeoutMs)
  return p.logs.filter(pred)[n - 1] as LogLine
}

async function setUp(t: Test, tag: string, same: boolean) {
  const lab = await buildLab(tag, same)
  const procs: Proc[] = []
  t.teardown(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL')
    await lab.lab.cleanup()
  })
  const dir = mkdtempSync(join(tmpdir(), 'erd-'))
  const conf = join(dir, 'erd.conf')
  writeFileSync(
    conf,
    [`updelay ${UPDELAY}ms`, 'flap_limit 3', `hold_time ${HOLD}ms`, 'announce_count 2', 'announce_interval 100ms', ''].join('\n'),
  )
  const sink = nsNode(lab.srv, 'tcp-sink.mjs', ['0.0.0.0', '7070'])
  procs.push(sink)
  await sink.waitLog(l => l.event === 'listening')
  const erd = spawnDaemon('erd', ['eth0', 'eth1', '-c', conf, '--control', join(dir, 'erd.sock')], { netns: lab.node })
  procs.push(erd)
  await erd.waitLog(l => l.event === 'ready')
  const source = nsNode(lab.node, 'tcp-source.mjs', [lab.server4, '7070'])
  procs.push(source)
  await source.waitLog(l => l.event === 'connected')
  return { lab, erd, sink, source, dir }
}

/** Resolves once the server has received `more` bytes beyond now. */
async function flows(sink: Proc, more = 32 * 1024): Promise<void> {
  const last = [...sink.logs].reverse().find(l => l.event === 'bytes')
  const from = Number(last?.total ?? 0)
  await sink.waitLog(l => l.event === 'bytes' && Number(l.total) >= from + more)
}

async function bringDown(lab: Lab): Promise<void> {
  await lab.lab.ip(lab.lanA, ['link', 'set', 'p0', 'down'])
}
async function bringUp(lab: Lab): Promise<void> {
  await lab.lab.ip(lab.lanA, ['link', 'set', 'p0', 'up'])
}

t.test('same IP and MAC on both ports (the thesis setup)', async t => {
  if (!needsRoot(t)) return
  const { lab, erd, sink, source, dir } = await setUp(t, 'erds', true)

  // Copies on the secondary with a worse metric; its own competing
  // connected routes are gone.
  const r4 = JSON.parse(await lab.lab.ip(lab.node, ['-j', 'route', 'show', 'dev', 'eth1'])) as { dst: string; metric?: number }[]
  t.same(r4.map(r => `${r.dst}@${r.metric ?? 0}`).sort(), ['10.77.0.0/24@100', '10.88.0.0/16@100'])
  const r6 = JSON.parse(await lab.lab.ip(lab.node, ['-j', '-6', 'route', 'show', 'dev', 'eth1'])) as { dst: string; metric?: number }[]
  t.ok(r6.some(r => r.dst === '2001:db8:77::/64' && r.metric === 356), 'IPv6 prefix copied')
  t.notOk(r6.some(r => r.dst === '2001:db8:77::/64' && r.metric === 256), 'competing IPv6 route removed')
  t.equal(await routeDev(lab, lab.server4), 'eth0')
  await flows(sink)

  // 1. The primary's peer port dies: the stream moves to eth1, no reset.
  await bringDown(lab)
  await erd.waitLog(isSwitch('secondary'))
  t.equal(await routeDev(lab, lab.server4), 'eth1')
  t.equal(await routeDev(lab, '10.88.1.1'), 'eth1', 'gateway route follows')
  await flows(sink)
  await erd.waitLog(l => l.event === 'announced' && l.dev === 'eth1')

  // 2. Flapping faster than updelay: link events, never a switch back.
  for (let i = 0; i < 3; i++) {
    await bringUp(lab)
    await nth(erd, l => l.event === 'link' && l.phase === 'coming-up', i + 1)
    await bringDown(lab)
    await nth(erd, l => l.event === 'link' && l.link === 'primary' && l.phase === 'down', i + 2)
  }
  t.equal(erd.logs.filter(isSwitch('primary')).length, 0, 'no switch back while flapping')
  t.equal(await routeDev(lab, lab.server4), 'eth1')
  await flows(sink)

  // 3. Stable again: back to the primary after the (flap-extended) delay.
  await bringUp(lab)
  const coming = await nth(erd, l => l.event === 'link' && l.phase === 'coming-up', 4)
  t.equal(coming.flapping, true, 'three losses in the window: flapping')
  t.equal(coming.delay, HOLD)
  const back = await erd.waitLog(isSwitch('primary'), 20_000)
  t.ok(Date.parse(String(back.time)) - Date.parse(String(coming.time)) >= HOLD - 5, 'waited for hold_time')
  t.equal(await routeDev(lab, lab.server4), 'eth0')
  const before = await txPackets(lab, 'eth0')
  await flows(sink)
  t.ok((await txPackets(lab, 'eth0')) - before > 10, 'traffic leaves by eth0 again')

  t.notOk(source.logs.some(l => l.event === 'error' || l.event === 'closed'), 'the TCP stream was never reset')
  t.notOk(sink.logs.some(l => l.event === 'error' || l.event === 'closed'), 'the server saw no reset')

  const st = await runBin('erd', ['status', '--json', '--control', join(dir, 'erd.sock')])
  t.equal(st.code, 0)
  const status = JSON.parse(st.stdout) as { active: string; transitions: { to: string }[] }
  t.equal(status.active, 'primary')
  t.same(status.transitions.map(x => x.to), ['secondary', 'primary'])
  t.equal(await erd.stop('SIGTERM'), 0)
})

t.test('different IP and MAC per port: announcements redirect the server', async t => {
  if (!needsRoot(t)) return
  const { lab, erd, sink, source } = await setUp(t, 'erdd', false)
  const mac1 = (JSON.parse(await lab.lab.ip(lab.node, ['-j', 'link', 'show', 'eth1'])) as { address: string }[])[0]?.address
  await flows(sink)
  await bringDown(lab)
  await erd.waitLog(isSwitch('secondary'))
  // The server learns that 10.77.0.2 now lives behind eth1's MAC (the
  // gratuitous ARP), so its ACKs reach the node and the stream goes on.
  await flows(sink)
  const neigh = JSON.parse(await lab.lab.ip(lab.srv, ['-j', 'neigh', 'show', lab.ip4[0]])) as { lladdr?: string }[]
  t.equal(neigh[0]?.lladdr, mac1, 'server neighbour entry points at eth1')
  await bringUp(lab)
  await erd.waitLog(isSwitch('primary'))
  t.equal(await routeDev(lab, lab.server4), 'eth0')
  await flows(sink)
  t.notOk(source.logs.some(l => l.event === 'error' || l.event === 'closed'), 'the TCP stream was never reset')
})

t.test('clear errors: missing interface', async t => {
  if (!needsRoot(t)) return
  const r = await runBin('erd', ['nosuch0', 'nosuch1', '-c', '/nonexistent/erd.conf', '--control', join(mkdtempSync(join(tmpdir(), 'erd-')), 's')])
  t.equal(r.code, 3, 'a named config file that is missing is a config error')
  const dir = mkdtempSync(join(tmpdir(), 'erd-'))
  writeFileSync(join(dir, 'erd.conf'), '')
  const r2 = await runBin('erd', ['nosuch0', 'nosuch1', '-c', join(dir, 'erd.conf'), '--control', join(dir, 's')])
  t.equal(r2.code, 1)
  t.match(r2.stderr, /ERD_ERR_NO_INTERFACE: interface "nosuch0" \(primary\) does not exist/)
})
