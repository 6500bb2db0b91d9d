// bench/chaos.js refuses what it cannot run before it builds anything: a
// mistyped option, a bad value, a used --out directory (which crashed with
// EEXIST half-way through the set-up).
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, needsRoot } from '@has/test-support'

const chaos = (
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise(resolve => {
    execFile(
      process.execPath,
      [join(ROOT, 'bench/chaos.js'), ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          stdout,
          stderr,
        }),
    )
  })

t.test('--help prints the usage; bad options exit 2 and name them', async t => {
  const help = await chaos('--help')
  t.equal(help.code, 0)
  t.match(help.stdout, /--out DIR/)
  const typo = await chaos('--minute', '3')
  t.equal(typo.code, 2)
  t.match(typo.stderr, /minute/)
  const bad = await chaos('--minutes', 'soon')
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--minutes "soon": not a positive number/)
})

t.test('a used --out directory is refused, its files untouched', async t => {
  if (!needsRoot(t)) return
  const out = mkdtempSync(join(tmpdir(), 'has-chaos-cli-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  writeFileSync(join(out, 'summary.json'), '{}')
  const r = await chaos('--minutes', '1', '--out', out)
  t.equal(r.code, 2)
  t.match(r.stderr, /--out ".*has-chaos-cli-.*": not empty/)
})
