import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes } from '../src/errors.js'
import { tcError } from '../src/errors.js'

t.test('README Errors table and the code table match both ways', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'TC_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
})

t.test('messages fill their placeholders; exit statuses', async t => {
  const e = tcError('TC_ERR_PROCFS_MEMINFO', '/proc/meminfo', 'MemTotal')
  t.equal(e.message, '/proc/meminfo lacks MemTotal')
  t.equal(e.code, 'TC_ERR_PROCFS_MEMINFO')
  t.equal(e.exitCode, 1)
  t.equal(tcError('TC_ERR_ERRORLOG', '/x', 'EACCES').exitCode, 3)
  t.equal(tcError('TC_ERR_FLAG_ARGS', 'pause').exitCode, 2)
})
