// "Each package installs alone with npm and gives its binary": pack every
// package as npm would publish it, install each one into an empty project
// with only the @has tarballs it depends on, then run its binary and import
// it as a library. Catches a missing `files` entry, a dependency declared
// only at the workspace root, or a bin that is not executable.

import t from 'tap'
import { execFile } from 'node:child_process'
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from '@has/test-support'

const run = promisify(execFile)

interface Manifest {
  name: string
  version: string
  private?: boolean
  bin?: Record<string, string>
  dependencies?: Record<string, string>
}

const dirs = (await readdir(join(ROOT, 'packages'))).sort()
const manifests = new Map<string, { dir: string; pkg: Manifest }>()
for (const dir of dirs) {
  const pkg = JSON.parse(
    await readFile(join(ROOT, 'packages', dir, 'package.json'), 'utf8'),
  ) as Manifest
  // Private packages (test-support) are never published: nothing to install.
  if (pkg.private) continue
  manifests.set(pkg.name, { dir, pkg })
}

const work = await mkdtemp(join(tmpdir(), 'has-install-'))
t.teardown(() => rm(work, { recursive: true, force: true }))
const packs = join(work, 'packs')

// One `npm pack` for all workspaces: the tarballs a registry would serve.
await mkdir(packs)
const packed = await run(
  'npm',
  ['pack', '--workspaces', '--json', '--pack-destination', packs],
  {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  },
)
const tarballs = new Map<string, string>()
for (const e of JSON.parse(packed.stdout) as {
  name: string
  filename: string
}[]) {
  tarballs.set(e.name, join(packs, e.filename))
}

/** The package and every @has package it needs, transitively. */
function closure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen
  seen.add(name)
  for (const dep of Object.keys(manifests.get(name)?.pkg.dependencies ?? {})) {
    if (manifests.has(dep)) closure(dep, seen)
  }
  return seen
}

for (const [name, { pkg }] of manifests) {
  t.test(`${name} installs alone`, async t => {
    const tarball = tarballs.get(name)
    t.ok(tarball, 'npm pack produced a tarball')
    if (tarball === undefined) return
    const app = await mkdtemp(join(work, 'app-'))
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }),
    )
    const wanted = [...closure(name)].map(n => tarballs.get(n) as string)
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...wanted,
      ],
      {
        cwd: app,
        maxBuffer: 16 << 20,
      },
    )
    for (const bin of Object.keys(pkg.bin ?? {})) {
      const { stdout } = await run(
        join(app, 'node_modules', '.bin', bin),
        ['--version'],
        { cwd: app },
      )
      t.equal(stdout.trim(), pkg.version, `${bin} --version`)
    }
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(name)}); console.log(Object.keys(m).length)`,
      ],
      { cwd: app },
    )
    t.ok(
      Number(stdout) > 0,
      `import ${name} gives its exports (${stdout.trim()})`,
    )
  })
}
