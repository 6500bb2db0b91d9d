// The kernel planes' write queue: newest state wins, membership first,
// weight-only writes spaced. Writes are held open by the test, so ordering
// is decided by the test, never by timing.
import t from 'tap'
import type { Backend } from '../../src/data-plane.js'
import {
  createUpdateQueue,
  membershipKey,
  parseWeightInterval,
} from '../../src/nft/update-queue.js'

const be = (host: string, weight: number): Backend => ({
  id: host,
  host,
  port: 80,
  weight,
})

/** A write that stays open until the test releases it. */
function heldWrites() {
  const written: string[] = []
  // Per write: did the queue call it a membership change?
  const membership: boolean[] = []
  const releases: ((err?: Error) => void)[] = []
  let announce: () => void = () => {}
  const write = (next: readonly Backend[], m: boolean): Promise<void> => {
    written.push(next.map(b => `${b.host}/${b.weight}`).join(','))
    membership.push(m)
    announce()
    return new Promise<void>((resolve, reject) => {
      releases.push(err => (err ? reject(err) : resolve()))
    })
  }
  /** Resolves when the nth write (1-based) has started. */
  const started = (n: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const bound = setTimeout(
        () => reject(new Error(`write ${n} did not start within 5 s`)),
        5000,
      )
      const check = (): void => {
        if (written.length >= n) {
          clearTimeout(bound)
          resolve()
        }
      }
      announce = check
      check()
    })
  const release = (err?: Error): void => releases.shift()?.(err)
  /** Lets the nth write start, then completes it. */
  const pass = async (n: number): Promise<void> => {
    await started(n)
    release()
  }
  return { write, written, membership, started, release, pass }
}

/** A queue over held writes whose first set is already written. */
async function primed(weightIntervalMs: number, first: readonly Backend[]) {
  const w = heldWrites()
  const q = createUpdateQueue({ write: w.write, weightIntervalMs })
  const done = q.push(first)
  await w.pass(1)
  await done
  return { w, q }
}

t.test(
  'membership key: drain, removal and addition differ; weights do not',
  async t => {
    const base = membershipKey([be('a', 10), be('b', 20)])
    t.equal(
      membershipKey([be('b', 200), be('a', 1)]),
      base,
      'weights and order',
    )
    t.not(membershipKey([be('a', 10), be('b', 0)]), base, 'drained')
    t.not(membershipKey([be('a', 10)]), base, 'removed')
    t.not(membershipKey([be('a', 1), be('b', 1), be('c', 1)]), base, 'added')
  },
)

t.test(
  'sets pushed during a write are coalesced: one more write, the newest, every waiter settles',
  async t => {
    const w = heldWrites()
    const q = createUpdateQueue({ write: w.write, weightIntervalMs: 0 })
    const first = q.push([be('a', 1)])
    await w.started(1)
    const later = [
      q.push([be('a', 1), be('b', 1)]),
      q.push([be('a', 1), be('b', 1), be('c', 1)]),
      q.push([be('b', 1)]),
    ]
    w.release()
    await first
    await w.pass(2)
    await Promise.all(later)
    t.same(w.written, ['a/1', 'b/1'])
  },
)

t.test(
  'a membership change is written at once, past a weight-only set waiting out its interval',
  async t => {
    const { w, q } = await primed(60_000, [be('a', 5), be('b', 5)])
    // Weights only, within the interval: held back (60 s here).
    const weights = q.push([be('a', 9), be('b', 3)])
    await new Promise(setImmediate)
    t.same(w.written, ['a/5,b/5'], 'weight-only change waits')
    // b is removed: written now, with the newest weights; both settle.
    const removal = q.push([be('a', 7)])
    await w.pass(2)
    await Promise.all([weights, removal])
    t.same(w.written, ['a/5,b/5', 'a/7'])
    t.same(w.membership, [true, true], 'the first write and the removal')
    q.clear()
  },
)

t.test(
  'weight-only changes are written after the interval, coalesced',
  async t => {
    const { w, q } = await primed(20, [be('a', 5)])
    const waits = [
      q.push([be('a', 6)]),
      q.push([be('a', 7)]),
      q.push([be('a', 8)]),
    ]
    await w.pass(2)
    await Promise.all(waits)
    t.same(w.written, ['a/5', 'a/8'])
    t.same(w.membership, [true, false], 'weights alone: not membership')
  },
)

t.test(
  'a failed write rejects its waiters; the next set is still written',
  async t => {
    const w = heldWrites()
    const q = createUpdateQueue({ write: w.write, weightIntervalMs: 0 })
    const failing = q.push([be('a', 1)])
    await w.started(1)
    const next = q.push([be('b', 1)])
    w.release(new Error('nft said no'))
    await t.rejects(failing, { message: 'nft said no' })
    await w.pass(2)
    await next
    t.same(w.written, ['a/1', 'b/1'])
  },
)

t.test('clear drops a waiting set and settles its waiters', async t => {
  const { w, q } = await primed(60_000, [be('a', 1)])
  const waiting = q.push([be('a', 2)])
  q.clear()
  await waiting
  t.same(w.written, ['a/1'])
})

t.test('weight-interval option: ms, s, bounds', async t => {
  t.equal(parseWeightInterval('250'), 250)
  t.equal(parseWeightInterval('250ms'), 250)
  t.equal(parseWeightInterval('2s'), 2000)
  t.equal(parseWeightInterval('0'), 0)
  for (const bad of ['-1', 'soon', '61s', '0.5ms', ''])
    t.throws(() => parseWeightInterval(bad), /weight-interval: expected/, bad)
})
