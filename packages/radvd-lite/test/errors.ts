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

t.test('factory fills the template and keeps the cause', async t => {
  const cause = new Error('EPERM')
  const e = errors(
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
