import t from 'tap'
import { readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { createDaemonLogger, openErrorLog } from '../src/logging.js'

const msgs = (file: string): string[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map(l => (JSON.parse(l) as { msg: string }).msg)

t.test('ErrorLog gets warnings and errors only, as JSON lines', async t => {
  const file = join(t.testdir({}), 'sub', 'tmd.log')
  const stdout: string[] = []
  const { logger } = createDaemonLogger('info', file, l => stdout.push(l))
  logger.warn({ node: '10.0.0.1' }, 'node silent past timeout; removed')
  logger.error('boom')
  logger.info('not in the error log')
  // Written synchronously: no flush or wait stands between log and file.
  t.same(msgs(file), ['node silent past timeout; removed', 'boom'])
  t.equal(stdout.length, 3, 'stdout still gets every line')
})

t.test('reopen follows logrotate; a bad path keeps the old file', async t => {
  const dir = t.testdir({})
  const file = join(dir, 'tmd.log')
  const { logger, errorLog } = createDaemonLogger('info', file, () => {})
  logger.warn('before rotation')
  renameSync(file, `${file}.1`)
  openErrorLog(errorLog, file, logger)
  logger.warn('after rotation')
  t.same(msgs(`${file}.1`), ['before rotation'])
  t.same(msgs(file), ['after rotation'])
  // A directory where the file should be: open fails, the old file stays.
  openErrorLog(errorLog, dir, logger)
  t.equal(errorLog.path, file)
  t.match(msgs(file), ['after rotation', /cannot open ErrorLog/])
})

t.test('without ErrorLog, stdout only', async t => {
  const stdout: string[] = []
  const { logger, errorLog } = createDaemonLogger('info', undefined, l =>
    stdout.push(l),
  )
  logger.error('only here')
  t.equal(errorLog.path, undefined)
  t.match(JSON.parse(stdout[0] ?? '{}'), {
    msg: 'only here',
    level: 50,
    daemon: 'traffic-manager',
  })
})
