// The README's Errors table and src/errors.ts list the same codes.
import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, raError } from '../src/errors.js'

t.test('README Errors table matches the code table', async t => {
  t.same(
    readmeErrorCodes(new URL('../README.md', import.meta.url), 'RA_ERR_'),
    Object.keys(errorCodes).sort(),
    'README Errors table == src/errors.ts',
  )
})

t.test('factory fills the template and keeps the cause', async t => {
  const cause = new Error('EPERM')
  const e = raError(
    'RA_ERR_PRIVILEGE',
    'eth0',
    'socket: Operation not permitted',
    cause,
  )
  t.equal(e.code, 'RA_ERR_PRIVILEGE')
  t.match(
    e.message,
    /eth0 needs CAP_NET_RAW \(socket: Operation not permitted\)/,
  )
  t.equal(e.cause, cause)
  t.equal(e.exitCode, 1)
})
