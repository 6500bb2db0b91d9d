// RealMonitor with an injected clock and check runner: the schedule and the
// failurecount decisions are tested without real time passing.

import t from 'tap'
import { mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../src/config.js'
import {
  RealMonitor,
  maintenanceNames,
  type CheckEvent,
} from '../src/monitor.js'
import { ManualClock } from '@has/test-support'
import type { CheckResult } from '../src/checks.js'

const cfg = parseConfig(
  'checkinterval = 2\nfailurecount = 3\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  checktype = connect\n',
  'x.cf',
).config!
const v = cfg.virtuals[0]!
const r = v.reals[0]!

function harness(
  results: CheckResult[],
  opts: { took?: number; maintenancedir?: string } = {},
) {
  const clock = new ManualClock(0)
  const events: CheckEvent[] = []
  let waiter: (() => void) | undefined
  const m = new RealMonitor({
    virtual: v,
    real: r,
    clock,
    ...(opts.maintenancedir ? { maintenancedir: opts.maintenancedir } : {}),
    run: async (_v, _r, round) => {
      clock.advance(opts.took ?? 100)
      return {
        kind: `round${round}`,
        result: results[round] ?? results[results.length - 1]!,
      }
    },
    onResult: e => {
      events.push(e)
      waiter?.()
    },
  })
  const step = async () => {
    const seen = new Promise<void>(res => (waiter = res))
    clock.next()
    await seen
  }
  return { clock, events, m, step }
}

const ok = { ok: true, reason: 'ok' }
const bad = { ok: false, reason: 'refused', code: 'LD_ERR_CHECK_CONNECT' }

t.test(
  'checks every checkinterval; down after failurecount failures',
  async t => {
    const h = harness([ok, bad, bad, bad, ok])
    h.m.start()
    for (let i = 0; i < 5; i++) await h.step()
    h.m.stop()
    t.same(
      h.events.map(e => e.changed ?? '-'),
      ['up', '-', '-', 'down', 'up'],
    )
    // Check n starts at n * checkinterval: the interval counts from start.
    t.same(
      h.events.map(e => e.state.lastCheckAt),
      [100, 2100, 4100, 6100, 8100],
    )
    t.same(
      h.events.map(e => e.durationMs),
      [100, 100, 100, 100, 100],
    )
    t.equal(h.clock.pending, 0, 'stopped: no timer left')
  },
)

t.test(
  'a check longer than the interval delays only its own next check',
  async t => {
    const h = harness([bad], { took: 5000 })
    h.m.start()
    await h.step()
    await h.step()
    h.m.stop()
    t.same(
      h.events.map(e => e.state.lastCheckAt),
      [5000, 10000],
      'next starts when the slow one ends',
    )
  },
)

t.test('a late timer does not push the following checks back', async t => {
  const h = harness([ok])
  h.m.start()
  await h.step()
  h.clock.delayAll(400) // a busy event loop: the timer due at 2000 fires at 2400
  await h.step()
  await h.step()
  h.m.stop()
  t.same(
    h.events.map(e => e.state.lastCheckAt),
    [100, 2500, 4100],
    'the third is due at 4000, not 4400',
  )
})

t.test('a maintenance file forces the real down at once', async t => {
  const dir = t.testdir({})
  const maint = join(dir, 'maint')
  mkdirSync(maint)
  t.same(maintenanceNames(r), ['10.0.0.2', '10.0.0.2:80'])
  t.same(
    maintenanceNames({ ...r, host: '2001:db8::2', port: 8080 }),
    ['2001:db8::2', '[2001:db8::2]', '[2001:db8::2]:8080'],
    'IPv6 in brackets, as ldirectord writes it',
  )
  const h = harness([ok], { maintenancedir: maint })
  h.m.start()
  await h.step()
  writeFileSync(join(maint, '10.0.0.2:80'), '')
  await h.step()
  t.match(h.events[1], {
    changed: 'down',
    kind: 'maintenance',
    result: { code: 'LD_ERR_MAINTENANCE' },
  })
  rmSync(join(maint, '10.0.0.2:80'))
  await h.step()
  t.equal(h.events[2]?.changed, 'up')
  h.m.stop()
})

t.test('checktype=N runs N connects then one negotiate', async t => {
  const { runCheck } = await import('../src/monitor.js')
  const c = parseConfig(
    'virtual = 127.0.0.1:80\n  real = 127.0.0.1:1 gate\n  checktype = 2\n  service = http\n',
    'x.cf',
  ).config!
  const vv = c.virtuals[0]!
  const kinds = []
  for (let i = 0; i < 6; i++)
    kinds.push((await runCheck(vv, vv.reals[0]!, i)).kind)
  t.same(kinds, ['connect', 'connect', 'http', 'connect', 'connect', 'http'])
})

t.test('checkcount: a check fails only when every attempt fails', async t => {
  const c = parseConfig(
    'checkcount = 3\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  checktype = connect\n',
    'x.cf',
  ).config!
  const vv = c.virtuals[0]!
  // Per call: fail, fail, ok (one check passes on its third attempt), then
  // three failures in a row (the next check fails).
  const script = [bad, bad, ok, bad, bad, bad]
  const calls: number[] = []
  const events: CheckEvent[] = []
  const m = new RealMonitor({
    virtual: vv,
    real: vv.reals[0]!,
    clock: new ManualClock(0),
    run: async (_v, _r, round) => {
      calls.push(round)
      return { kind: 'connect', result: script[calls.length - 1] ?? ok }
    },
    onResult: e => void events.push(e),
  })
  await m.once()
  await m.once()
  m.stop()
  t.same(calls, [0, 0, 0, 1, 1, 1], 'three attempts per check, one round each')
  t.same(
    events.map(e => e.result.ok),
    [true, false],
  )
  t.same(
    events.map(e => e.changed),
    ['up', 'down'],
  )
})
