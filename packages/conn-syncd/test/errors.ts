// The README's Errors table and src/errors.ts must list the same codes.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes } from '../src/errors.js'

t.test('README errors table matches the code table', async t => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? ''
  const documented = [...section.matchAll(/^\| `?(CS_ERR_[A-Z_]+)`? \|/gm)]
    .map(m => m[1])
    .sort()
  t.same(documented, [...errorCodes].sort())
})
