import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes } from '../src/errors.js'
import { tcError } from '../src/errors.js'

t.test('README Errors table and the code table match both ways', async t => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.split('\n## Errors')[1]?.split('\n## ')[0] ?? ''
  const documented = [...section.matchAll(/^\| `(TC_ERR_[A-Z_]+)` \|/gm)]
    .map(m => m[1])
    .sort()
  t.same(documented, Object.keys(errorCodes).sort())
})

t.test('messages fill their placeholders; exit statuses', async t => {
  const e = tcError('TC_ERR_PROCFS_MEMINFO', '/proc/meminfo', 'MemTotal')
  t.equal(e.message, '/proc/meminfo lacks MemTotal')
  t.equal(e.code, 'TC_ERR_PROCFS_MEMINFO')
  t.equal(e.exitCode, 1)
  t.equal(tcError('TC_ERR_ERRORLOG', '/x', 'EACCES').exitCode, 3)
  t.equal(tcError('TC_ERR_FLAG_ARGS', 'pause').exitCode, 2)
})
