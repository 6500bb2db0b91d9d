// Actions against real sockets bound here (the peers' documented
// protocols): a control socket for weight/pause/resume and a UDP port for
// LOAD reports.

import t from 'tap'
import { join } from 'node:path'
import { controlRequest, silentLogger } from '@has/daemon-kit'
import { parseConfig, type VirtualService } from '../src/config.js'
import { DirectorActions, HasActions } from '../src/actions.js'
import { Reporter } from '../src/reporter.js'
import type { RealStatus } from '../src/health.js'
import { controlPeer, reportSink, socketDir } from './helpers/peers.js'

const cfg = parseConfig(
  'virtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  real = 10.0.0.3 gate\n  fallback = 10.0.0.9:8080\n',
  'x.cf',
).config!
const v = cfg.virtuals[0]!
const view = (a: RealStatus, b: RealStatus) =>
  new Map<VirtualService, Map<string, RealStatus>>([
    [
      v,
      new Map([
        ['10.0.0.2', a],
        ['10.0.0.3', b],
      ]),
    ],
  ])
const send = (a: string, c: string, args: string[]) =>
  controlRequest(a, c, args, 2000)

t.test(
  'director: weight 0 when down, auto when up, fallback when all are down',
  async t => {
    const tm = await controlPeer(['weight'])
    t.teardown(() => tm.close())
    const acts: string[] = []
    const d = new DirectorActions(tm.address, send, silentLogger(), (a, ok) =>
      acts.push(`${a}:${ok}`),
    )
    const weights = () => tm.commands.items.map(c => c.args.join(' '))
    await d.update(view('unknown', 'unknown'))
    t.same(weights(), [], 'nothing known: nothing sent')
    await d.update(view('up', 'up'))
    t.same(weights(), [
      '10.0.0.1:80 10.0.0.2 auto',
      '10.0.0.1:80 10.0.0.3 auto',
      '10.0.0.1:80 10.0.0.9 0',
    ])
    await d.update(view('up', 'up'))
    t.equal(weights().length, 3, 'no change: nothing sent')
    await d.update(view('down', 'up'))
    t.equal(weights()[3], '10.0.0.1:80 10.0.0.2 0')
    await d.update(view('down', 'down'))
    t.same(weights().slice(4), [
      '10.0.0.1:80 10.0.0.3 0',
      '10.0.0.1:80 10.0.0.9 auto',
    ])
    await d.tick()
    t.same(
      weights().slice(6),
      ['10.0.0.1:80 10.0.0.2 0', '10.0.0.1:80 10.0.0.3 0'],
      'tick re-asserts weight 0 (a restarted manager learns it)',
    )
    await d.update(view('up', 'down'))
    t.same(weights().slice(8), [
      '10.0.0.1:80 10.0.0.2 auto',
      '10.0.0.1:80 10.0.0.9 0',
    ])
    t.match(d.status(), {
      mode: 'director',
      weights: [{ node: '10.0.0.2', weight: 'auto', applied: true }],
    })
    await d.close()
    t.ok(acts.every(a => a === 'weight:true'))
  },
)

t.test('director: a failed command is retried on the next tick', async t => {
  const address = join(socketDir(t), 'tm.sock')
  const d = new DirectorActions(address, send, silentLogger(), () => {})
  await d.update(view('down', 'up'))
  t.match(d.status(), { weights: [{ node: '10.0.0.2', applied: false }] })
  const tm = await controlPeer(['weight'])
  t.teardown(() => tm.close())
  const d2 = new DirectorActions(tm.address, send, silentLogger(), () => {})
  await d2.update(view('down', 'up'))
  await d2.tick()
  t.equal(
    tm.commands.items.filter(c => c.args[2] === 'auto').length,
    1,
    'auto is not repeated',
  )
})

t.test(
  'HAS: drain reports each tick and pause; up report and resume on recovery',
  async t => {
    const key = 'k-0123456789'
    const sink = await reportSink(key)
    t.teardown(() => sink.close())
    const sockDir = socketDir(t)
    const tcAddress = join(sockDir, 'tc.sock')
    const reporter = new Reporter({
      node: '10.0.0.2',
      targets: [{ host: '127.0.0.1', port: sink.port }],
      key,
      logger: silentLogger(),
      epoch: 1_700_000_000_000,
    })
    const h = new HasActions(
      { trafficclientcontrol: tcAddress },
      reporter,
      send,
      silentLogger(),
      () => {},
    )
    await h.update(view('up', 'up'))
    t.match(h.status(), { mode: 'has', nodeFailed: false, drainsSent: 0 })

    await h.update(view('up', 'down'))
    const d1 = await sink.reports.wait(r => r.state === 'drain')
    t.match(d1, {
      node: '10.0.0.2',
      load: 0,
      sender: 'ld',
      epoch: 1_700_000_000_000,
      seq: 1,
      verified: true,
    })
    t.match(
      h.status(),
      { nodeFailed: true, trafficClient: null },
      'traffic-client not there yet',
    )
    // The traffic-client comes up: the pending pause goes through on a tick.
    const tc = await controlPeer(['pause', 'resume'])
    t.teardown(() => tc.close())
    t.equal(tc.address.startsWith(sockDir), false)
    const h2 = new HasActions(
      { trafficclientcontrol: tc.address },
      reporter,
      send,
      silentLogger(),
      () => {},
    )
    await h2.update(view('down', 'down'))
    await tc.commands.wait(c => c.cmd === 'pause')
    await h2.tick()
    const d3 = await sink.reports.wait(r => r.state === 'drain' && r.seq === 3)
    t.equal(d3.load, 0, 'drain re-sent while failed')
    t.equal(
      tc.commands.items.length,
      1,
      'pause is not repeated once acknowledged',
    )

    await h2.update(view('up', 'up'))
    const upR = await sink.reports.wait(r => r.state === 'up')
    t.match(upR, { load: 1, seq: 4 })
    await tc.commands.wait(c => c.cmd === 'resume')
    await h2.tick()
    await h2.tick()
    t.equal(sink.reports.items.length, 4, 'no drain after recovery')
    t.match(h2.status(), {
      nodeFailed: false,
      trafficClient: 'resume',
      drainsSent: 2,
    })
    await h2.close()
    await h.close()
  },
)

t.test('HAS: a node healthy from the start sends nothing', async t => {
  const tc = await controlPeer(['pause', 'resume'])
  t.teardown(() => tc.close())
  const h = new HasActions(
    { trafficclientcontrol: tc.address },
    undefined,
    send,
    silentLogger(),
    () => {},
  )
  await h.update(view('up', 'up'))
  await h.tick()
  t.same(tc.commands.items, [])
})
