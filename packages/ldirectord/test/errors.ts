import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { errorCodes, ldError } from '../src/errors.js'

t.test('README Errors table and src/errors.ts list the same codes', async t => {
  const readme = readFileSync(
    join(import.meta.dirname, '..', 'README.md'),
    'utf8',
  )
  const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? ''
  const documented = [
    ...section.matchAll(/^\| <a id="(LD_ERR_[A-Z_]+)"><\/a>`\1` \|/gm),
  ].map(m => m[1])
  t.same(documented.sort(), Object.keys(errorCodes).sort())
})

t.test('the factory fills the message and the exit status', async t => {
  const e = ldError('LD_ERR_KEYFILE_UNREADABLE', '/k', 'ENOENT')
  t.match(e, {
    code: 'LD_ERR_KEYFILE_UNREADABLE',
    message: 'cannot read reportkeyfile /k: ENOENT',
    exitCode: 3,
  })
})
