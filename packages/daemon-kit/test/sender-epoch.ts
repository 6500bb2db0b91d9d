// Issue 19.9: an epoch from the wall clock alone went backwards when the
// clock stepped back, and receivers then dropped the restarted sender.
import t from 'tap'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  senderEpoch,
  parseEpochState,
  defaultEpochFile,
} from '../src/sender-epoch.js'
import { ReplayGuard } from '../src/replay-guard.js'

t.test(
  'never goes backwards across restarts when the clock steps back',
  async t => {
    const file = join(t.testdir({}), 'state', 'epoch')
    const a = senderEpoch(file, () => 1_700_000_000_000)
    t.same(a, { epoch: 1_700_000_000_000, source: 'persisted' })
    t.equal(readFileSync(file, 'utf8'), '1700000000000\n')
    const b = senderEpoch(file, () => 1_600_000_000_000) // clock stepped back 3 years
    t.equal(b.epoch, 1_700_000_000_001, 'last + 1, not the clock')
    const c = senderEpoch(file, () => 1_800_000_000_000)
    t.equal(c.epoch, 1_800_000_000_000, 'the clock again once it is ahead')
    // What a receiver sees: every restart is accepted as one.
    const g = new ReplayGuard()
    t.equal(g.check('s', a.epoch, 5), 'ok')
    t.equal(
      g.check('s', b.epoch, 1),
      'restart',
      'a sender restarted after a clock step is not stale',
    )
    t.equal(g.check('s', c.epoch, 1), 'restart')
  },
)

t.test('falls back to the clock, and says why', async t => {
  const dir = t.testdir({ bad: 'garbage\n' })
  const bad = senderEpoch(join(dir, 'bad'), () => 42)
  t.match(bad, {
    epoch: 42,
    source: 'clock',
    warning: /not one decimal integer/,
  })
  mkdirSync(join(dir, 'ro'))
  chmodSync(join(dir, 'ro'), 0o500)
  writeFileSync(join(dir, 'file'), '')
  const unwritable = senderEpoch(join(dir, 'file', 'epoch'), () => 7)
  t.match(unwritable, { epoch: 7, source: 'clock', warning: /ENOTDIR/ })
  t.equal(parseEpochState('123\n'), 123)
  t.equal(parseEpochState('99999999999999999'), undefined)
  t.equal(parseEpochState('-1'), undefined)
  t.equal(
    defaultEpochFile('traffic-client', 0),
    '/var/lib/has/traffic-client/epoch',
  )
})
