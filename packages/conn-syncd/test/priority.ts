// The priority helpers: chrt arguments, /proc/<pid>/stat fields, and the
// "refused: warn and go on" path (a chrt that fails stands for a host
// without CAP_SYS_NICE or real-time budget).
import t from 'tap'
import { captureLogger } from '@has/test-support'
import {
  applyPriority,
  chrtArgs,
  parseSchedStat,
  readSchedState,
} from '../src/priority.js'

/** A /proc/<pid>/stat line with these fields (1-based, as proc(5) counts). */
const statLine = (comm: string, fields: Record<number, number>): string => {
  const rest = Array.from({ length: 52 - 2 }, (_, i) => fields[i + 3] ?? 0)
  return `4242 (${comm}) ${rest.join(' ')}\n`
}

const capture = () => {
  const c = captureLogger('conn-syncd')
  return { log: c.logger, lines: c.lines }
}

t.test('chrt arguments set every thread of the process', async t => {
  t.same(chrtArgs({ policy: 'rr', priority: 10 }, 77), [
    '-a',
    '-r',
    '-p',
    '10',
    '77',
  ])
  t.same(chrtArgs({ policy: 'fifo', priority: 99 }, 1)[1], '-f')
  t.same(chrtArgs({ policy: 'other', priority: 0 }, 1).slice(1, 4), [
    '-o',
    '-p',
    '0',
  ])
})

t.test('nice, rt_priority and policy from /proc/<pid>/stat', async t => {
  t.same(parseSchedStat(statLine('node', { 19: -10, 40: 10, 41: 2 })), {
    nice: -10,
    rtPriority: 10,
    policy: 'rr',
  })
  t.same(
    parseSchedStat(statLine('a) (b c', { 19: 5, 40: 0, 41: 0 })),
    { nice: 5, rtPriority: 0, policy: 'other' },
    'a command name with spaces and parentheses',
  )
  t.equal(parseSchedStat(statLine('x', { 41: 1 }))?.policy, 'fifo')
  t.equal(parseSchedStat('not a stat line'), undefined)
  const self = readSchedState('self')
  t.ok(self && Number.isInteger(self.nice), 'this process has a nice value')
  t.equal(readSchedState(2 ** 30), undefined, 'no such process')
})

t.test(
  'a refused scheduler is a warning, the rest is still applied, nothing throws',
  async t => {
    const { log, lines } = capture()
    const r = await applyPriority(
      { scheduler: { policy: 'rr', priority: 10 } },
      log,
      { chrt: '/bin/false' },
    )
    t.same(r, { nice: 'unset', scheduler: 'refused' })
    const warn = lines.find(l => l.level === 40)
    t.match(warn, {
      msg: /cannot set the scheduler/,
      scheduler: 'rr',
      priority: 10,
    })
    const none = await applyPriority({}, log)
    t.same(none, { nice: 'unset', scheduler: 'unset' }, 'nothing configured')
  },
)
