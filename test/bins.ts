// "Every daemon runs by its name from the checkout": after the set-up
// (`npm ci`, then `npm run build`), each bin a package declares is linked
// in node_modules/.bin, its target is executable, and `<bin> --version`
// prints the package's version. Catches npm ci linking nothing because
// dist/ did not exist yet, and tsc writing dist/bin.js 0644.

import t from 'tap'
import { execFile } from 'node:child_process'
import {
  accessSync,
  constants,
  readFileSync,
  readdirSync,
  realpathSync,
} from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from '@has/test-support'

const run = promisify(execFile)

for (const dir of readdirSync(join(ROOT, 'packages')).sort()) {
  const pkg = JSON.parse(
    readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8'),
  ) as {
    name: string
    version: string
    bin?: Record<string, string>
  }
  for (const [bin, target] of Object.entries(pkg.bin ?? {})) {
    t.test(`${bin} runs by its name`, async t => {
      const link = join(ROOT, 'node_modules', '.bin', bin)
      let real = ''
      t.doesNotThrow(
        () => (real = realpathSync(link)),
        `node_modules/.bin/${bin} is linked`,
      )
      t.equal(
        real,
        realpathSync(join(ROOT, 'packages', dir, target)),
        `it points at ${dir}/${target}`,
      )
      t.doesNotThrow(
        () => accessSync(link, constants.X_OK),
        `${target} is executable`,
      )
      // Through npx, as the README tells a new user to run it.
      const { stdout } = await run('npx', ['--no-install', bin, '--version'], {
        cwd: ROOT,
      })
      t.equal(stdout.trim(), pkg.version, `npx ${bin} --version`)
    })
  }
}
