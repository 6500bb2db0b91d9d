// The README's Errors table and the code table must name the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, hbError } from '../src/errors.js'

t.test('README table matches the code table', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'HB_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
  t.equal(hbError('HB_ERR_AUTHKEYS_MODE', 'f', '644').exitCode, 3)
})
