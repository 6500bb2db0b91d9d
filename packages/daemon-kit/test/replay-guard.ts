import t from 'tap'
import { ReplayGuard, REPLAY_WINDOW } from '../src/replay-guard.js'

t.test('sequence window', async t => {
  const g = new ReplayGuard()
  t.equal(g.check('a', 1, 10), 'ok')
  t.equal(g.check('a', 1, 10), 'replay')
  t.equal(g.check('a', 1, 12), 'ok')
  t.equal(
    g.check('a', 1, 11),
    'late',
    'late but inside the window: accepted once, told apart',
  )
  t.equal(g.check('a', 1, 11), 'replay')
  t.equal(g.check('a', 1, 200), 'ok')
  t.equal(g.check('a', 1, 100), 'stale', 'behind the window')
  t.equal(g.check('a', 0, 500), 'stale', 'older epoch')
  t.equal(g.check('a', 2, 1), 'restart', 'new epoch resets')
  t.equal(g.check('b', 1, 1), 'ok', 'senders are independent')
  g.forget('a')
  t.equal(g.check('a', 1, 1), 'ok')
})

// Issue 19.13: the window is 64 numbers wide (the newest and the 63 before
// it); docs and code now both say a seq 64 or more behind is stale.
t.test('window boundary: 63 behind is late, 64 behind is stale', async t => {
  const g = new ReplayGuard()
  t.equal(REPLAY_WINDOW, 64)
  t.equal(g.check('a', 1, 1000), 'ok')
  t.equal(g.check('a', 1, 1000 - 63), 'late', '63 behind: inside the window')
  t.equal(g.check('a', 1, 1000 - 64), 'stale', '64 behind: outside the window')
  t.equal(g.check('a', 1, 1000 - 65), 'stale')
  t.equal(g.check('a', 1, 1064), 'ok', 'the window slides by 64')
  t.equal(g.check('a', 1, 1001), 'late', '63 behind the new top')
  t.equal(g.check('a', 1, 1000), 'stale', '64 behind the new top')
})
