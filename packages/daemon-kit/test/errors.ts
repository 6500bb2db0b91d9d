// The README's Errors table and the code table must name the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import {
  kitError,
  defineErrors,
  errorCodes,
  EXIT,
  hasCode,
} from '../src/errors.js'

t.test('README table matches the code table', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'KIT_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
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

t.test('the kit factory fills its own templates', async t => {
  const e = kitError('KIT_ERR_CONFIG_UNREADABLE', '/etc/x.conf', 'ENOENT')
  t.equal(e.code, 'KIT_ERR_CONFIG_UNREADABLE')
  t.equal(e.message, 'cannot read /etc/x.conf: ENOENT')
  t.equal(e.exitCode, 3)
})
