import t from 'tap'
import { backoffMs, rsyncArgs, rsyncSucceeded } from '../src/rsync-args.js'

t.test('rsync command line', async t => {
  t.same(
    rsyncArgs({
      source: '/srv/export',
      target: '/backup/export/',
      ioTimeoutS: 30,
    }),
    [
      '-a',
      '--delete',
      '--numeric-ids',
      '--hard-links',
      '--timeout=30',
      '/srv/export/',
      '/backup/export/',
    ],
  )
  const d = rsyncArgs({
    source: '/a/',
    target: 'rsync://h/m/',
    ioTimeoutS: 5,
    extra: ['--exclude=*.tmp'],
  })
  t.ok(
    rsyncArgs({
      source: '/a',
      target: 'rsync://h/m',
      ioTimeoutS: 30,
      connectTimeoutS: 3,
    }).includes('--contimeout=3'),
    'connect timeout apart from the I/O one',
  )
  t.ok(d.includes('--contimeout=5'), 'daemon targets get a connect timeout')
  t.same(d.slice(-3), ['--exclude=*.tmp', '/a/', 'rsync://h/m/'])
})

t.test('exit codes and back-off', async t => {
  t.ok(rsyncSucceeded(0))
  t.ok(rsyncSucceeded(24), 'vanished files: more changes, not a failure')
  t.notOk(rsyncSucceeded(10))
  t.notOk(rsyncSucceeded(null))
  t.same(
    [0, 1, 2, 3, 4, 10].map(f => backoffMs(f, 1000, 5000)),
    [0, 1000, 2000, 4000, 5000, 5000],
  )
  t.equal(backoffMs(1000, 1000, 30_000), 30_000, 'no overflow')
})
