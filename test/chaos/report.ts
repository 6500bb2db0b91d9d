// The chaos report's figures from synthetic records (report.js is pure).
// Issue 14's bar is about streams older than the sync threshold when their
// master failed; a stream opened while the master's conn-syncd was frozen
// (SIGSTOP) is not one, however old it was when the takeover reset it.
import t from 'tap'
import { join } from 'node:path'
import { ROOT } from '@has/test-support'

interface Lost {
  ageMs: number
  bornAt?: number
  reason: string
  request?: boolean
}
interface Second {
  t: number
  ok: Record<string, number>
  fail: Record<string, number>
  reasons: Record<string, number>
  streamsLost: Lost[]
  streamsOpened: number
  failures?: { t: number; kind: string; reason: string; port?: number }[]
}
interface Report {
  analyse: (o: {
    load: Second[]
    mon: { t: number; vip: string }[]
    faults: { type: string; kind: string; tInject: number; hold: number }[]
    exits: never[]
    t0: number
    tEnd: number
  }) => {
    totals: {
      ok: number
      fail: number
      streamsLost: number
      streamsLostOld: number
      streamsLostIdle: number
      availability: number
      availabilityStrict: number
    }
    perFault: {
      failed: number
      streamsLost: number
      streamsLostOld: number
      failures: {
        afterS: number
        kind: string
        reason: string
        port?: number
      }[]
    }[]
  }
}

const lib = (await import(join(ROOT, 'bench/lib/chaos/report.js'))) as Report

const second = (t: number, streamsLost: Lost[] = []): Second => ({
  t,
  ok: { ka4: 10 },
  fail: streamsLost.length ? { stream: streamsLost.length } : {},
  reasons: {},
  streamsLost,
  streamsOpened: 0,
})

t.test('a stream is old by its age when its master failed', async t => {
  const load: Second[] = []
  for (let s = 1; s <= 30; s++) load.push(second(s * 1000))
  // Lost before any fault: judged by its age at the loss.
  load[2] = second(3000, [{ ageMs: 2500, reason: 'timeout' }])
  // SIGSTOP at 10 s; the takeover resets three streams at 12.6 s.
  load[12] = second(13_000, [
    // Opened 0.14 s after the SIGSTOP: 2.46 s old at the reset, yet young.
    { ageMs: 2460, bornAt: 10_140, reason: 'ECONNRESET' },
    // Opened 0.5 s before it: young when the master failed.
    { ageMs: 3100, bornAt: 9500, reason: 'ECONNRESET' },
    // Opened 5 s before it: old.
    { ageMs: 7600, bornAt: 5000, reason: 'ECONNRESET' },
  ])
  const r = lib.analyse({
    load,
    mon: [],
    faults: [
      {
        type: 'sigstop active-master 2s',
        kind: 'sigstop',
        tInject: 10_000,
        hold: 2,
      },
    ],
    exits: [],
    t0: 0,
    tEnd: 31_000,
  })
  t.equal(r.perFault[0]?.streamsLost, 3)
  t.equal(r.perFault[0]?.streamsLostOld, 1, 'only the stream born 5 s before')
  t.equal(r.totals.streamsLost, 4)
  t.equal(r.totals.streamsLostOld, 2, 'and the one lost before any fault')
})

t.test(
  'a stream closed between two requests is lost without a failed request; the strict figure counts it',
  async t => {
    const load: Second[] = []
    for (let s = 1; s <= 10; s++) load.push(second(s * 1000))
    // nginx killed at 4 s: one stream closed while idle (no request sent),
    // one with its request in flight (charged, as the record's fail says).
    load[4] = {
      ...second(5000),
      fail: { stream: 1 },
      streamsLost: [
        { ageMs: 9000, bornAt: -4000, reason: 'closed', request: false },
        { ageMs: 9000, bornAt: -4000, reason: 'closed', request: true },
      ],
    }
    const r = lib.analyse({
      load,
      mon: [],
      faults: [{ type: 'nginx crash', kind: 'nginx', tInject: 4000, hold: 8 }],
      exits: [],
      t0: 0,
      tEnd: 11_000,
    })
    t.equal(r.totals.ok, 100)
    t.equal(r.totals.fail, 1)
    t.equal(r.totals.streamsLost, 2)
    t.equal(r.totals.streamsLostIdle, 1)
    t.equal(r.totals.availability, 100 / 101)
    t.equal(r.totals.availabilityStrict, 100 / 102)
    t.equal(r.perFault[0]?.streamsLost, 2)
  },
)

t.test(
  "each failed request is listed under its fault, by when it ended and with its client's port",
  async t => {
    const load: Second[] = []
    for (let s = 1; s <= 40; s++) load.push(second(s * 1000))
    load[12] = {
      ...second(13_000),
      fail: { ka4: 1 },
      failures: [{ t: 12_412, kind: 'ka4', reason: 'timeout', port: 41234 }],
    }
    load[30] = {
      ...second(31_000),
      fail: { conn6: 1 },
      failures: [{ t: 30_050, kind: 'conn6', reason: 'connect-timeout' }],
    }
    const r = lib.analyse({
      load,
      mon: [],
      faults: [
        {
          type: 'node primary NIC down',
          kind: 'nic',
          tInject: 10_000,
          hold: 10,
        },
        { type: 'nginx crash', kind: 'nginx', tInject: 25_000, hold: 8 },
      ],
      exits: [],
      t0: 0,
      tEnd: 41_000,
    })
    t.same(r.perFault[0]?.failures, [
      { afterS: 2.412, kind: 'ka4', reason: 'timeout', port: 41234 },
    ])
    t.same(r.perFault[1]?.failures, [
      { afterS: 5.05, kind: 'conn6', reason: 'connect-timeout' },
    ])
    t.equal(r.perFault[0]?.failed, 1, 'the list and the count agree')
  },
)
