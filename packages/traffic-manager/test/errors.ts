import t from 'tap'
import { readFileSync } from 'node:fs'
import { errorCodes, tmError } from '../src/errors.js'
import { nftErrors } from '../src/nft/errors.js'
import { drErrors } from '../src/nft/dr-errors.js'

t.test(
  'README Errors table lists exactly the codes of src/errors.ts and src/nft/errors.ts',
  t => {
    const readme = readFileSync(
      new URL('../README.md', import.meta.url),
      'utf8',
    )
    const section = readme.slice(
      readme.indexOf('## Errors'),
      readme.indexOf('## Metrics'),
    )
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)]
      .map(m => m[1])
      .sort()
    t.same(
      documented,
      [
        ...Object.keys(errorCodes),
        ...Object.keys(nftErrors.codes),
        ...Object.keys(drErrors.codes),
      ].sort(),
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
