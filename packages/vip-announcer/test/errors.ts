// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, vaError } from '../src/errors.js'

t.test('README Errors table matches the code table', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'VA_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
})

t.test('factory fills the template', async t => {
  const e = vaError(
    'VA_ERR_BIRD_REFUSED',
    'enable "vip4"',
    8003,
    'No protocols match',
  )
  t.equal(e.code, 'VA_ERR_BIRD_REFUSED')
  t.equal(e.message, 'BIRD refused "enable "vip4"": 8003 No protocols match')
})
