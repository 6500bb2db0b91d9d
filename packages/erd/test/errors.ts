// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, erdError } from '../src/errors.js'

t.same(
  readmeErrorCodes(new URL('../README.md', import.meta.url), 'ERD_ERR_'),
  Object.keys(errorCodes).sort(),
  'README Errors table == src/errors.ts',
)

t.test('errors carry code, message and exit status', async t => {
  const e = erdError('ERD_ERR_NO_INTERFACE', 'eth7', 'primary')
  t.equal(e.code, 'ERD_ERR_NO_INTERFACE')
  t.equal(e.exitCode, 1)
  t.equal(e.message, 'interface "eth7" (primary) does not exist')
  t.equal(erdError('ERD_ERR_PRIVILEGE').exitCode, 1)
})
