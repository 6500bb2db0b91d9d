import t from 'tap'
import { HealthMachine, judge, type Verdict } from '../src/health.js'

const ok: Verdict = { ok: true }
const down: Verdict = { ok: false, reason: 'tm-down', detail: 'gone' }

t.test(
  'withdraws at the first failure, announces only after health held for the settle time',
  async t => {
    const m = new HealthMachine(1000, 0)
    t.equal(m.state, 'withdrawn')
    t.match(m.observe(ok, 0), {
      from: 'withdrawn',
      to: 'settling',
      reason: 'healthy',
    })
    t.equal(m.observe(ok, 999), undefined, 'not yet at 999 ms')
    t.notOk(m.announce)
    t.match(m.observe(ok, 1000), { to: 'announced', reason: 'settled' })
    t.ok(m.announce)
    t.equal(m.observe(ok, 5000), undefined, 'steady')
    t.match(
      m.observe(down, 5001),
      { from: 'announced', to: 'withdrawn', reason: 'tm-down' },
      'one failure withdraws',
    )
    t.notOk(m.announce)
  },
)

t.test('a failure while settling starts the settle time again', async t => {
  const m = new HealthMachine(1000, 0)
  m.observe(ok, 0)
  t.match(m.observe(down, 800), { from: 'settling', to: 'withdrawn' })
  t.match(m.observe(ok, 900), { to: 'settling' })
  t.equal(
    m.observe(ok, 1800),
    undefined,
    'the first healthy spell does not count',
  )
  t.match(m.observe(ok, 1900), { to: 'announced' })
})

t.test(
  'repeated failures while withdrawn are no transitions but update the reason',
  async t => {
    const m = new HealthMachine(0, 0)
    t.equal(
      m.observe({ ok: false, reason: 'no-nodes', detail: 'x: 0 eligible' }, 1),
      undefined,
    )
    t.equal(m.reason, 'no-nodes')
    t.equal(m.detail, 'x: 0 eligible')
  },
)

t.test('settle 0 announces at the first healthy probe', async t => {
  const m = new HealthMachine(0, 0)
  t.match(m.observe(ok, 0), { to: 'announced' })
})

t.test(
  'drain withdraws and holds until resume; resume settles again',
  async t => {
    const m = new HealthMachine(100, 0)
    m.observe(ok, 0)
    m.observe(ok, 100)
    t.ok(m.announce)
    t.match(m.drain(200), {
      from: 'announced',
      to: 'draining',
      reason: 'drain',
    })
    t.equal(m.drain(201), undefined, 'drain twice is one drain')
    t.equal(m.observe(ok, 1000), undefined, 'health does not end a drain')
    t.notOk(m.announce)
    t.equal(m.resume(1001)?.to, 'withdrawn')
    t.equal(m.resume(1002), undefined, 'resume when not draining does nothing')
    m.observe(ok, 1003)
    t.notOk(m.announce)
    t.match(m.observe(ok, 1103), { to: 'announced' })
  },
)

t.test(
  'judge: services present, data plane running, enough eligible nodes',
  async t => {
    const h = {
      services: [
        {
          name: '10.0.0.100:80',
          dataplane: 'nftables-dr',
          running: true,
          eligible: 3,
        },
        {
          name: '10.0.0.101:80',
          dataplane: 'nftables-dr',
          running: false,
          eligible: 3,
        },
        {
          name: '10.0.0.102:80',
          dataplane: 'proxy',
          running: true,
          eligible: 0,
        },
      ],
    }
    t.same(judge(h, { services: ['10.0.0.100:80'], minNodes: 1 }), {
      ok: true,
      key: '10.0.0.100:80=3',
    })
    t.match(judge(h, { services: ['10.0.0.100:80'], minNodes: 4 }), {
      ok: false,
      reason: 'no-nodes',
      detail: '10.0.0.100:80: 3 eligible node(s), need 4',
    })
    t.match(judge(h, { services: ['10.0.0.101:80'], minNodes: 1 }), {
      reason: 'dataplane-down',
    })
    t.match(judge(h, { services: ['10.0.0.9:80'], minNodes: 1 }), {
      reason: 'service-missing',
    })
    t.match(
      judge(h, { services: [], minNodes: 1 }),
      { reason: 'dataplane-down' },
      'no list: every service counts',
    )
    t.match(judge({ services: [] }, { services: [], minNodes: 1 }), {
      reason: 'service-missing',
    })
    t.match(judge({} as never, { services: [], minNodes: 1 }), {
      reason: 'tm-error',
    })
  },
)

t.test(
  'a change of the eligible nodes while settling starts the settle time again',
  async t => {
    // A restarted master hears its nodes one report at a time; announcing it
    // before the set is stable gives it a different Maglev table, and the
    // flows ECMP moves onto it are reset by the wrong node (seen in test/bgp/ecmp.ts).
    const m = new HealthMachine(1000, 0)
    m.observe({ ok: true, key: 's=1' }, 0)
    t.equal(m.observe({ ok: true, key: 's=3' }, 900), undefined)
    t.equal(
      m.observe({ ok: true, key: 's=3' }, 1000),
      undefined,
      'not announced 1000 ms after the first healthy probe',
    )
    t.notOk(m.announce)
    t.match(
      m.observe({ ok: true, key: 's=3' }, 1900),
      { to: 'announced' },
      '1000 ms after the last change',
    )
    t.equal(
      m.observe({ ok: true, key: 's=4' }, 2000),
      undefined,
      'once announced, a change is no transition',
    )
    t.ok(m.announce)
  },
)
