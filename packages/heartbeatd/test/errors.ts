// The README's Errors table and the code table must name the same codes.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes, hbError } from '../src/errors.js'

t.test('README table matches the code table', async t => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? ''
  const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)]
    .map(m => m[1])
    .sort()
  t.same(documented, Object.keys(errorCodes).sort())
  t.equal(hbError('HB_ERR_AUTHKEYS_MODE', 'f', '644').exitCode, 3)
})
