// The README's Errors table and src/errors.ts must list the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes } from '../src/errors.js'

t.test('README errors table matches the code table', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'HASCTL_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
})
