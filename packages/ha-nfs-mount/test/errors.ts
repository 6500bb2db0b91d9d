// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes, hnmError } from '../src/errors.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const section = readme.slice(
  readme.indexOf('## Errors'),
  readme.indexOf('\n## ', readme.indexOf('## Errors') + 1),
)
const documented = [
  ...section.matchAll(/^\| <a id="(HNM_ERR_[A-Z_]+)"><\/a>`\1` \|/gm),
].map(m => m[1])

t.same(
  documented.sort(),
  Object.keys(errorCodes).sort(),
  'README table == errors.ts table',
)

t.test('errors carry code, message and exit status', async t => {
  const e = hnmError('HNM_ERR_NOT_ROOT', 1000)
  t.equal(e.code, 'HNM_ERR_NOT_ROOT')
  t.equal(e.exitCode, 1)
  t.match(e.message, 'uid 1000')
})
