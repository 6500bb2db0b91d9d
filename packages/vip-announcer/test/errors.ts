// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes, errors } from '../src/errors.js'

t.test('README Errors table matches the code table', async t => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.split(/^## Errors$/m)[1]?.split(/^## /m)[0] ?? ''
  const inReadme = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)]
    .map(m => m[1])
    .sort()
  t.same(inReadme, Object.keys(errorCodes).sort())
})

t.test('factory fills the template', async t => {
  const e = errors(
    'VA_ERR_BIRD_REFUSED',
    'enable "vip4"',
    8003,
    'No protocols match',
  )
  t.equal(e.code, 'VA_ERR_BIRD_REFUSED')
  t.equal(e.message, 'BIRD refused "enable "vip4"": 8003 No protocols match')
})
