import t from 'tap'
import { readmeErrorCodes } from '@has/test-support'
import { errorCodes, tmError } from '../src/errors.js'
import { nftError } from '../src/nft/errors.js'
import { drError } from '../src/nft/dr-errors.js'

t.test(
  'README Errors table lists exactly the codes of src/errors.ts and src/nft/errors.ts',
  t => {
    t.same(
      readmeErrorCodes(new URL('../README.md', import.meta.url), ''),
      [
        ...Object.keys(errorCodes),
        ...Object.keys(nftError.codes),
        ...Object.keys(drError.codes),
      ].sort(),
      'README Errors table == the code tables',
    )
    t.end()
  },
)

t.test('errors carry their code and exit status', t => {
  const e = tmError('TM_ERR_DATAPLANE_UNAVAILABLE', 'nftables', 'missing')
  t.equal(e.code, 'TM_ERR_DATAPLANE_UNAVAILABLE')
  t.equal(e.exitCode, 3)
  t.match(e.message, /nftables.*missing/)
  t.equal(tmError('TM_ERR_LISTEN', 'x', 'y').exitCode, 1)
  t.end()
})
