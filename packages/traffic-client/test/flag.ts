import t from 'tap'
import { nextFlag, reportFor, FLAGS, FLAG_COMMANDS } from '../src/flag.js'

t.test('every command from every flag', async t => {
  const table = Object.fromEntries(
    FLAGS.map(f => [
      f,
      Object.fromEntries(FLAG_COMMANDS.map(c => [c, nextFlag(f, c)])),
    ]),
  )
  t.same(table, {
    report: { pause: 'paused', resume: 'report', drain: 'drain' },
    paused: { pause: 'paused', resume: 'report', drain: 'drain' },
    drain: { pause: 'paused', resume: 'report', drain: 'drain' },
  })
})

t.test('what a report says under each flag', async t => {
  t.same(reportFor('report', 6717), { load: 6717, state: 'up' })
  t.same(reportFor('drain', 6717), { load: 0, state: 'drain' })
  t.equal(reportFor('paused', 6717), undefined)
})
