// examples/README.md "Installing a role" works as written: its
// `npm install -g ./has-*.tgz ...` commands, run against the tarballs of
// `npm pack --workspaces` (what `npm run pack` writes to artifacts/) into a
// scratch global prefix, install every daemon of the role and hasctl, and
// each installed binary runs `--version`. Catches a role that misses a
// tarball it depends on (npm would try the registry, where nothing is
// published) and a doc that drifts from the package names.

import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from '@has/test-support'

const run = promisify(execFile)

/** The `npm install -g` lines of the section, continuations joined (pure). */
export function installCommands(
  readme: string,
): { role: string; files: string[] }[] {
  const section =
    readme.split('## Installing a role')[1]?.split('\n## ')[0] ?? ''
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter(l => l.trim().startsWith('npm install -g '))
    .map(l => {
      const [cmd = '', role = ''] = l.split('#')
      return { role: role.trim(), files: cmd.trim().split(/\s+/).slice(3) }
    })
}

const readme = await readFile(join(ROOT, 'examples', 'README.md'), 'utf8')
const commands = installCommands(readme)

t.test('the section has one command per role', async t => {
  t.same(
    commands.map(c => c.role),
    ['master', 'traffic node'],
  )
})

const work = await mkdtemp(join(tmpdir(), 'has-install-role-'))
t.teardown(() => rm(work, { recursive: true, force: true }))
const packs = join(work, 'artifacts')
await mkdir(packs)
await run(
  'npm',
  ['pack', '--workspaces', '--pack-destination', packs, '--loglevel=error'],
  { cwd: ROOT, maxBuffer: 16 << 20 },
)
const tarballs = (await readdir(packs)).sort()

/** `./has-erd-*.tgz` → the tarball it names in artifacts/. */
function resolve(glob: string): string | undefined {
  const re = new RegExp(
    `^${glob.replace(/^\.\//, '').replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`,
  )
  const hit = tarballs.filter(f => re.test(f))
  return hit.length === 1 ? join(packs, hit[0] as string) : undefined
}

for (const { role, files } of commands) {
  t.test(
    `${role}: installs from the tarballs alone, every binary runs`,
    async t => {
      const paths = files.map(f => resolve(f))
      t.same(
        files.filter((_, i) => paths[i] === undefined),
        [],
        'every tarball named exists',
      )
      const prefix = join(work, role.replace(/\W+/g, '-'))
      // An @has dependency missing from the command fails: the registry has
      // none of them (404).
      await run(
        'npm',
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          ...(paths as string[]),
        ],
        {
          cwd: packs,
          maxBuffer: 16 << 20,
        },
      )
      const bins = (await readdir(join(prefix, 'bin'))).sort()
      t.ok(bins.includes('hasctl'), 'hasctl is installed')
      for (const bin of bins) {
        const { stdout } = await run(join(prefix, 'bin', bin), ['--version'])
        t.match(stdout.trim(), /^\d+\.\d+\.\d+$/, `${bin} --version`)
      }
    },
  )
}
