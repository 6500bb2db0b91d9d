// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes, erdError } from '../src/errors.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const start = readme.indexOf('## Errors')
const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
const documented = [
  ...section.matchAll(/^\| <a id="(ERD_ERR_[A-Z_]+)"><\/a>`\1` \|/gm),
].map(m => m[1])

t.same(
  documented.sort(),
  [...errorCodes].sort(),
  'README table == errors.ts table',
)

t.test('errors carry code, message and exit status', async t => {
  const e = erdError('ERD_ERR_NO_INTERFACE', 'eth7', 'primary')
  t.equal(e.code, 'ERD_ERR_NO_INTERFACE')
  t.equal(e.exitCode, 1)
  t.equal(e.message, 'interface "eth7" (primary) does not exist')
  t.equal(erdError('ERD_ERR_PRIVILEGE').exitCode, 1)
})
