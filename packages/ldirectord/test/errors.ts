import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, ldError } from '../src/errors.js'

t.test('README Errors table and src/errors.ts list the same codes', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'LD_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
})

t.test('the factory fills the message and the exit status', async t => {
  const e = ldError('LD_ERR_KEYFILE_UNREADABLE', '/k', 'ENOENT')
  t.match(e, {
    code: 'LD_ERR_KEYFILE_UNREADABLE',
    message: 'cannot read reportkeyfile /k: ENOENT',
    exitCode: 3,
  })
})
