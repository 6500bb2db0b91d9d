// The README's Errors table and the code table must name the same codes.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { kitError, defineErrors, EXIT, hasCode } from '../src/errors.js'

t.test('README table matches the code table', async t => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.split('## Errors')[1]?.split('\n## ')[0] ?? ''
  const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)]
    .map(m => m[1])
    .sort()
  t.same(documented, Object.keys(kitError.codes).sort())
})

t.test('defineErrors fills templates and exit codes', async t => {
  const err = defineErrors({
    X_ERR_A: { message: 'bad %s at %s', exit: EXIT.CONFIG },
  })
  const e = err('X_ERR_A', 'port', 7)
  t.equal(e.message, 'bad port at 7')
  t.equal(e.code, 'X_ERR_A')
  t.equal(e.exitCode, 3)
  t.ok(hasCode(e))
  t.notOk(hasCode(new Error('x')))
})
