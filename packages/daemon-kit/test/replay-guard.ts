import t from 'tap'
import { ReplayGuard } from '../src/replay-guard.js'

t.test('sequence window', async t => {
  const g = new ReplayGuard()
  t.equal(g.check('a', 1, 10), 'ok')
  t.equal(g.check('a', 1, 10), 'replay')
  t.equal(g.check('a', 1, 12), 'ok')
  t.equal(g.check('a', 1, 11), 'late', 'late but inside the window: accepted once, told apart')
  t.equal(g.check('a', 1, 11), 'replay')
  t.equal(g.check('a', 1, 200), 'ok')
  t.equal(g.check('a', 1, 100), 'stale', 'behind the window')
  t.equal(g.check('a', 0, 500), 'stale', 'older epoch')
  t.equal(g.check('a', 2, 1), 'restart', 'new epoch resets')
  t.equal(g.check('b', 1, 1), 'ok', 'senders are independent')
  g.forget('a')
  t.equal(g.check('a', 1, 1), 'ok')
})
