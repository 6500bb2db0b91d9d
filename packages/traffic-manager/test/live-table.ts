import t from 'tap'
import { LiveTable } from '../src/live-table.js'
import { ReportSources } from '../src/report-sources.js'
import { formatReport, type LoadReport } from '../src/report-protocol.js'
import type { NodeConfig } from '../src/config.js'

const KEY = 'a-shared-report-key'
const nodes: NodeConfig[] = [
  { address: '10.0.0.11', role: 'active', label: 'traffic1' },
  { address: '10.0.0.12', role: 'active', label: 'traffic2' },
]

function setup(key: string | null = KEY) {
  let clock = 1_000_000
  const table = new LiveTable({
    nodes,
    key: key ?? undefined,
    timeoutMs: 3000,
    now: () => clock,
  })
  return { table, tick: (ms: number) => (clock += ms) }
}

const rep = (over: Partial<LoadReport> = {}): LoadReport => ({
  node: '10.0.0.11',
  load: 6717,
  state: 'up',
  sender: 'tc',
  epoch: 1700000000000,
  seq: 1,
  ...over,
})

t.test(
  'a signed report brings a node in; silence past timeout takes it out; the next report brings it back',
  t => {
    const { table, tick } = setup()
    t.equal(table.get('10.0.0.11')?.status, 'unknown')
    t.match(table.receive(formatReport(rep(), KEY)), {
      accepted: true,
      changed: true,
      statusChanged: true,
    })
    t.equal(table.get('10.0.0.11')?.load, 6717)
    t.equal(table.nextExpiry(), 1_003_000)
    tick(2999)
    t.same(table.expire(), [], 'not yet')
    tick(1)
    t.same(table.expire(), ['10.0.0.11'], 'leaves at timeout')
    t.equal(table.get('10.0.0.11')?.status, 'timeout')
    t.equal(
      table.get('10.0.0.11')?.reported,
      'up',
      'the last reported state outlives the timeout (plan.ts fail-static)',
    )
    t.same(table.expire(), [], 'only once')
    t.equal(table.nextExpiry(), undefined)
    t.match(table.receive(formatReport(rep({ seq: 2 }), KEY)), {
      accepted: true,
      statusChanged: true,
    })
    t.equal(table.get('10.0.0.11')?.status, 'up', 'back')
    t.end()
  },
)

t.test(
  'forged, replayed, unknown and malformed reports are dropped and counted',
  t => {
    const { table } = setup()
    const good = formatReport(rep(), KEY)
    t.match(table.receive(good), { accepted: true })
    t.match(
      table.receive(good),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      'exact replay',
    )
    t.match(
      table.receive(
        formatReport(rep({ seq: 2, load: 1 }), 'wrong-key-wrong-key'),
      ),
      {
        accepted: false,
        reason: 'TM_ERR_REPORT_MAC',
      },
    )
    t.match(
      table.receive(formatReport(rep({ seq: 3, load: 1 }))),
      { accepted: false, reason: 'TM_ERR_REPORT_MAC' },
      'unsigned',
    )
    const tampered = good.replace(' 6717 ', ' 9999 ')
    t.match(
      table.receive(tampered),
      { accepted: false, reason: 'TM_ERR_REPORT_MAC' },
      'tampered',
    )
    t.match(
      table.receive(formatReport(rep({ node: '10.0.0.99', seq: 4 }), KEY)),
      {
        accepted: false,
        reason: 'TM_ERR_REPORT_UNKNOWN_NODE',
      },
    )
    t.match(table.receive('hello'), {
      accepted: false,
      reason: 'TM_ERR_REPORT_SYNTAX',
    })
    t.match(table.receive('LOAD 2 10.0.0.11 1 up tc 1 1'), {
      accepted: false,
      reason: 'TM_ERR_REPORT_VERSION',
    })
    t.match(table.receive('LOAD 1 10.0.0.11 x up tc 1 1'), {
      accepted: false,
      reason: 'TM_ERR_REPORT_FIELD',
    })
    t.match(table.receive(Buffer.alloc(2000, 0x41)), {
      accepted: false,
      reason: 'TM_ERR_REPORT_TOO_LONG',
    })
    t.match(
      table.receive(formatReport(rep({ epoch: 1, seq: 50 }), KEY)),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      'older epoch',
    )
    t.equal(table.get('10.0.0.11')?.load, 6717, 'nothing changed the node')
    t.same(table.drops, {
      TM_ERR_REPORT_SYNTAX: 1,
      TM_ERR_REPORT_VERSION: 1,
      TM_ERR_REPORT_FIELD: 1,
      TM_ERR_REPORT_TOO_LONG: 1,
      TM_ERR_REPORT_UNKNOWN_NODE: 1,
      TM_ERR_REPORT_SOURCE: 0,
      TM_ERR_REPORT_MAC: 3,
      TM_ERR_REPORT_REPLAY: 2,
      TM_ERR_REPORT_LATE: 0,
      TM_ERR_REPORT_AUTOJOIN_FULL: 0,
    })
    t.equal(table.accepted, 1)
    t.end()
  },
)

t.test('a forged report does not advance the replay window', t => {
  const { table } = setup()
  t.match(
    table.receive(formatReport(rep({ seq: 1000 }), 'forger-forger-forger')),
    { accepted: false },
  )
  t.match(table.receive(formatReport(rep({ seq: 1 }), KEY)), { accepted: true })
  t.end()
})

t.test(
  'replay state is per (sender, node); the latest report wins across senders',
  t => {
    const { table } = setup()
    t.match(table.receive(formatReport(rep({ seq: 5 }), KEY)), {
      accepted: true,
    })
    t.match(
      table.receive(
        formatReport(
          rep({ sender: 'ld', seq: 1, state: 'down', load: 0 }),
          KEY,
        ),
      ),
      { accepted: true },
    )
    t.equal(table.get('10.0.0.11')?.status, 'down')
    t.match(
      table.receive(formatReport(rep({ node: '10.0.0.12', seq: 1 }), KEY)),
      { accepted: true },
      'same sender, other node',
    )
    t.match(table.receive(formatReport(rep({ seq: 6 }), KEY)), {
      accepted: true,
    })
    t.equal(table.get('10.0.0.11')?.status, 'up')
    t.equal(table.get('10.0.0.11')?.sender, 'tc')
    t.end()
  },
)

t.test(
  'a late report older than the newest applied one is dropped as LATE, not applied',
  t => {
    const { table } = setup()
    const up = formatReport(rep({ seq: 7, state: 'up', load: 5000 }), KEY)
    t.match(
      table.receive(
        formatReport(rep({ seq: 8, state: 'drain', load: 0 }), KEY),
      ),
      { accepted: true },
    )
    t.match(
      table.receive(up),
      { accepted: false, reason: 'TM_ERR_REPORT_LATE' },
      'seq 7 after seq 8',
    )
    t.equal(
      table.get('10.0.0.11')?.status,
      'drain',
      'the older up does not undo the drain',
    )
    t.equal(table.get('10.0.0.11')?.load, 0)
    t.match(
      table.receive(up),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      'the same late datagram again is a replay',
    )
    t.match(
      table.receive(formatReport(rep({ seq: 3 }), KEY)),
      { accepted: false, reason: 'TM_ERR_REPORT_LATE' },
      'any older seq',
    )
    t.match(
      table.receive(formatReport(rep({ seq: 10, load: 42 }), KEY)),
      { accepted: true },
      'newer ones, gaps allowed',
    )
    t.equal(table.get('10.0.0.11')?.load, 42)
    t.match(
      table.receive(formatReport(rep({ seq: 9 }), KEY)),
      { accepted: false, reason: 'TM_ERR_REPORT_LATE' },
      'a skipped seq arriving late',
    )
    t.match(
      table.receive(
        formatReport(
          rep({ sender: 'ld', seq: 1, state: 'down', load: 0 }),
          KEY,
        ),
      ),
      { accepted: true },
      'another sender keeps its own order',
    )
    t.match(
      table.receive(formatReport(rep({ node: '10.0.0.12', seq: 2 }), KEY)),
      { accepted: true },
      'so does another node',
    )
    t.match(
      table.receive(formatReport(rep({ epoch: 1700000009999, seq: 1 }), KEY)),
      { accepted: true },
      'a new epoch starts over',
    )
    t.match(
      table.receive(formatReport(rep({ seq: 11 }), KEY)),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      'the old epoch is gone',
    )
    t.equal(table.drops.TM_ERR_REPORT_LATE, 3)
    t.equal(table.drops.TM_ERR_REPORT_REPLAY, 2)
    t.end()
  },
)

t.test(
  'the copy of one round sent to another master is a replay here; a missed one is late',
  t => {
    // A sender sends one seq per round to every master (PROTOCOL.md).
    const { table } = setup()
    const round = (seq: number) =>
      formatReport(rep({ seq, state: seq === 2 ? 'drain' : 'up' }), KEY)
    t.match(table.receive(round(1)), { accepted: true })
    t.match(table.receive(round(2)), { accepted: true })
    t.match(
      table.receive(round(2)),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      "master B's copy of round 2",
    )
    t.match(
      table.receive(round(1)),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      "master B's copy of round 1",
    )
    t.equal(table.get('10.0.0.11')?.status, 'drain')
    t.end()
  },
)

t.test('a restarted sender (new epoch) is accepted from seq 1', t => {
  const { table } = setup()
  t.match(table.receive(formatReport(rep({ seq: 900 }), KEY)), {
    accepted: true,
  })
  t.match(
    table.receive(formatReport(rep({ epoch: 1700000009999, seq: 1 }), KEY)),
    { accepted: true },
  )
  t.end()
})

t.test('without a key, unsigned reports are accepted', t => {
  const { table } = setup(null)
  t.match(table.receive(formatReport(rep())), { accepted: true })
  t.end()
})

t.test('reconfigure keeps the state of nodes that stay', t => {
  const { table } = setup()
  table.receive(formatReport(rep(), KEY))
  table.reconfigure({
    nodes: [nodes[0] as NodeConfig],
    key: KEY,
    timeoutMs: 500,
  })
  t.equal(table.get('10.0.0.11')?.status, 'up')
  t.equal(
    table.get('10.0.0.11')?.reported,
    'up',
    'the last reported state too (fail-static after a reload)',
  )
  t.equal(table.get('10.0.0.12'), undefined)
  t.equal(table.timeoutMs, 500)
  t.end()
})

// Issue 19.3: keyless replay state grew per invented sender name (RSS
// 59 -> 204 MB after 600k datagrams). Before the cap the map had 600k keys.
t.test(
  'replay state is capped: least recently used senders go first, evictions counted',
  t => {
    let clock = 0
    const table = new LiveTable({
      nodes,
      timeoutMs: 3000,
      now: () => clock,
      replayMax: 100,
    })
    for (let i = 0; i < 1000; i++) {
      clock++
      t.equal(
        table.receive(formatReport(rep({ sender: `s${i}`, seq: 1 }))).accepted,
        true,
      )
      // The real sender keeps reporting, so it stays recently used.
      if (i % 10 === 0)
        table.receive(formatReport(rep({ sender: 'tc', seq: i + 1 })))
    }
    t.equal(table.replayStateSize, 100, 'never more than the cap')
    t.ok(
      table.replayEvictions >= 900,
      `evictions counted (${table.replayEvictions})`,
    )
    t.match(
      table.receive(formatReport(rep({ sender: 'tc', seq: 991 }))),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      'an active sender kept its window',
    )
    t.end()
  },
)

t.test(
  'reports are taken only from the node itself, a master, this host or report-from',
  t => {
    const sources = new ReportSources({
      masters: ['10.0.0.1'],
      allow: ['192.0.2.0/24', '2001:db8::7'],
      isLocal: a => a === '10.0.0.254',
    })
    const table = new LiveTable({ nodes, timeoutMs: 3000, sources })
    let seq = 0
    const from = (src: string, node = '10.0.0.11') =>
      table.receive(formatReport(rep({ node, seq: ++seq })), src)
    t.match(from('10.0.0.11'), { accepted: true }, 'the node itself')
    t.match(
      from('::ffff:10.0.0.11'),
      { accepted: true },
      'the node, via a dual-stack socket',
    )
    t.match(
      from('10.0.0.1'),
      { accepted: true },
      'a master (ldirectord in director mode)',
    )
    t.match(from('10.0.0.254'), { accepted: true }, 'this host')
    t.match(from('192.0.2.77'), { accepted: true }, 'a report-from range')
    t.match(
      from('2001:db8:0::7'),
      { accepted: true },
      'a report-from address, other spelling',
    )
    t.match(
      from('10.0.0.12'),
      { accepted: false, reason: 'TM_ERR_REPORT_SOURCE' },
      'another node may not speak for it',
    )
    t.match(
      from('198.51.100.9'),
      { accepted: false, reason: 'TM_ERR_REPORT_SOURCE' },
      'a stranger',
    )
    t.equal(table.drops.TM_ERR_REPORT_SOURCE, 2)
    t.equal(table.replayStateSize, 1, 'dropped sources create no replay state')
    t.match(
      table.receive(formatReport(rep({ seq: ++seq }))),
      { accepted: true },
      'no source given (library use): not checked',
    )
    t.end()
  },
)

// Issue 17.6: an unlisted node in an autojoin range joins with a verified
// report, leaves on timeout, and cannot come back with a replayed one.
t.test(
  'autojoin: join with a valid MAC in range, refusals, cap, leave on timeout',
  t => {
    let clock = 1_000_000
    const inRange = (a: string): boolean => a.startsWith('10.0.9.')
    const table = new LiveTable({
      nodes,
      key: KEY,
      timeoutMs: 3000,
      now: () => clock,
      autojoin: { allowed: inRange, max: 2 },
    })
    const auto = (node: string, seq = 1, key = KEY): string =>
      formatReport(rep({ node, seq }), key)
    t.match(
      table.receive(auto('10.0.8.1')),
      { accepted: false, reason: 'TM_ERR_REPORT_UNKNOWN_NODE' },
      'outside every range',
    )
    t.match(
      table.receive(auto('10.0.9.1', 1, 'another-report-key-xyz')),
      { accepted: false, reason: 'TM_ERR_REPORT_MAC' },
      'bad MAC',
    )
    t.equal(
      table.get('10.0.9.1'),
      undefined,
      'nothing created by a forged report',
    )
    t.match(
      table.receive(formatReport(rep({ node: '10.0.9.1' }))),
      { accepted: false, reason: 'TM_ERR_REPORT_MAC' },
      'unsigned',
    )
    const joined = table.receive(auto('10.0.9.1'))
    t.match(joined, { accepted: true, joined: true, statusChanged: true })
    t.match(table.get('10.0.9.1'), {
      auto: true,
      role: 'active',
      status: 'up',
      load: 6717,
    })
    t.match(
      table.receive(auto('10.0.9.1', 2)),
      { accepted: true },
      'its next report is an update',
    )
    t.notOk((table.receive(auto('10.0.9.1', 3)) as { joined?: boolean }).joined)
    t.match(table.receive(auto('10.0.9.2')), { accepted: true, joined: true })
    t.match(
      table.receive(auto('10.0.9.3')),
      { accepted: false, reason: 'TM_ERR_REPORT_AUTOJOIN_FULL' },
      'the cap',
    )
    t.same(table.autojoinEvents, { join: 2, leave: 0, refused: 3 })
    clock += 3000
    t.same(table.expire().sort(), ['10.0.9.1', '10.0.9.2'])
    t.equal(table.get('10.0.9.1'), undefined, 'an auto node leaves the table')
    t.equal(table.autojoinEvents.leave, 2)
    t.match(
      table.receive(auto('10.0.9.1', 3)),
      { accepted: false, reason: 'TM_ERR_REPORT_REPLAY' },
      'a replayed report does not bring it back',
    )
    t.match(
      table.receive(auto('10.0.9.1', 4)),
      { accepted: true, joined: true },
      'a fresh one does',
    )
    // Without a key there is no autojoin at all.
    const keyless = new LiveTable({
      nodes,
      timeoutMs: 3000,
      now: () => clock,
      autojoin: { allowed: inRange, max: 2 },
    })
    t.match(keyless.receive(formatReport(rep({ node: '10.0.9.1' }))), {
      accepted: false,
      reason: 'TM_ERR_REPORT_UNKNOWN_NODE',
    })
    t.end()
  },
)
