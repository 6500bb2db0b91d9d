// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, hnmError } from '../src/errors.js'

t.same(
  readmeErrorCodes(new URL('../README.md', import.meta.url), 'HNM_ERR_'),
  Object.keys(errorCodes).sort(),
  'README Errors table == src/errors.ts',
)

t.test('errors carry code, message and exit status', async t => {
  const e = hnmError('HNM_ERR_NOT_ROOT', 1000)
  t.equal(e.code, 'HNM_ERR_NOT_ROOT')
  t.equal(e.exitCode, 1)
  t.match(e.message, 'uid 1000')
})
