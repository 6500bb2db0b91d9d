import t from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { readmeErrorCodes } from '../src/error-table.js'

t.test('both table forms, only the Errors section, by prefix', async t => {
  const dir = t.testdir({})
  const readme = join(dir, 'README.md')
  writeFileSync(
    readme,
    [
      '# x',
      '## Exit status',
      '| `X_ERR_NOT_HERE` | in another section |',
      '## Errors',
      '| code | meaning |',
      '| --- | --- |',
      '| `X_ERR_B` | plain |',
      '| <a id="X_ERR_A"></a>`X_ERR_A` | anchored |',
      '| `KIT_ERR_OTHER` | another prefix |',
      '## Files',
      '| `X_ERR_AFTER` | after the section |',
      '',
    ].join('\n'),
  )
  t.same(readmeErrorCodes(readme, 'X_ERR_'), ['X_ERR_A', 'X_ERR_B'])
  t.same(readmeErrorCodes(readme, ''), ['KIT_ERR_OTHER', 'X_ERR_A', 'X_ERR_B'])
})

t.test('a README without an Errors section is an error', async t => {
  const dir = t.testdir({ 'README.md': '# x\n## Usage\n' })
  t.throws(
    () => readmeErrorCodes(join(dir, 'README.md'), 'X_'),
    /no "## Errors"/,
  )
})
