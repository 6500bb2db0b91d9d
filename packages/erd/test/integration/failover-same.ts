// The thesis setup (same IP and MAC on both ports) with a TCP stream:
// failover without reset, no route flapping, failback after the delay.
import t from 'tap'
import { join } from 'node:path'
import { needsRoot } from '@has/test-support'
import { runBin } from '@has/test-support'
import { routeDev, txPackets } from '../helpers/lab.js'
import {
  HOLD,
  bringDown,
  bringUp,
  flows,
  isSwitch,
  nth,
  setUp,
  WAIT,
} from '../helpers/scenario.js'

t.test('same IP and MAC on both ports (the thesis setup)', async t => {
  if (!needsRoot(t)) return
  const { lab, erd, sink, source, dir } = await setUp(t, 'erds', true)

  // Copies on the secondary with a worse metric; its own competing
  // connected routes are gone.
  const r4 = JSON.parse(
    await lab.lab.ip(lab.node, ['-j', 'route', 'show', 'dev', 'eth1']),
  ) as { dst: string; metric?: number }[]
  t.same(r4.map(r => `${r.dst}@${r.metric ?? 0}`).sort(), [
    '10.77.0.0/24@100',
    '10.88.0.0/16@100',
  ])
  const r6 = JSON.parse(
    await lab.lab.ip(lab.node, ['-j', '-6', 'route', 'show', 'dev', 'eth1']),
  ) as { dst: string; metric?: number }[]
  t.ok(
    r6.some(r => r.dst === '2001:db8:77::/64' && r.metric === 356),
    'IPv6 prefix copied',
  )
  t.notOk(
    r6.some(r => r.dst === '2001:db8:77::/64' && r.metric === 256),
    'competing IPv6 route removed',
  )
  t.equal(await routeDev(lab, lab.server4), 'eth0')
  await flows(sink)

  // 1. The primary's peer port dies: the stream moves to eth1, no reset.
  await bringDown(lab)
  await erd.waitLog(isSwitch('secondary'), WAIT)
  t.equal(await routeDev(lab, lab.server4), 'eth1')
  t.equal(await routeDev(lab, '10.88.1.1'), 'eth1', 'gateway route follows')
  await flows(sink)
  await erd.waitLog(l => l.event === 'announced' && l.dev === 'eth1', WAIT)

  // 2. Flapping faster than updelay: link events, never a switch back.
  for (let i = 0; i < 3; i++) {
    await bringUp(lab)
    await nth(erd, l => l.event === 'link' && l.phase === 'coming-up', i + 1)
    await bringDown(lab)
    await nth(
      erd,
      l => l.event === 'link' && l.link === 'primary' && l.phase === 'down',
      i + 2,
    )
  }
  t.equal(
    erd.logs.filter(isSwitch('primary')).length,
    0,
    'no switch back while flapping',
  )
  t.equal(await routeDev(lab, lab.server4), 'eth1')
  await flows(sink)

  // 3. Stable again: back to the primary after the (flap-extended) delay.
  await bringUp(lab)
  const coming = await nth(
    erd,
    l => l.event === 'link' && l.phase === 'coming-up',
    4,
  )
  t.equal(coming.flapping, true, 'three losses in the window: flapping')
  t.equal(coming.delay, HOLD)
  const back = await erd.waitLog(isSwitch('primary'), WAIT)
  t.ok(
    Date.parse(String(back.time)) - Date.parse(String(coming.time)) >= HOLD - 5,
    'waited for hold_time',
  )
  t.equal(await routeDev(lab, lab.server4), 'eth0')
  const before = await txPackets(lab, 'eth0')
  await flows(sink)
  t.ok(
    (await txPackets(lab, 'eth0')) - before > 10,
    'traffic leaves by eth0 again',
  )

  t.notOk(
    source.logs.some(l => l.event === 'error' || l.event === 'closed'),
    'the TCP stream was never reset',
  )
  t.notOk(
    sink.logs.some(l => l.event === 'error' || l.event === 'closed'),
    'the server saw no reset',
  )

  const st = await runBin('erd', [
    'status',
    '--json',
    '--control',
    join(dir, 'erd.sock'),
  ])
  t.equal(st.code, 0)
  const status = JSON.parse(st.stdout) as {
    active: string
    transitions: { to: string }[]
  }
  t.equal(status.active, 'primary')
  t.same(
    status.transitions.map(x => x.to),
    ['secondary', 'primary'],
  )
  t.equal(await erd.stop('SIGTERM'), 0)
})
