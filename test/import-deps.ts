// For every package: each bare import under src/ (subfolders included, static
// and dynamic) is a declared dependency, and each declared dependency is
// imported, so no package rides on a sibling's or the workspace root's deps.
// (test/install-alone.ts proves the same from the packed tarballs, slower.)

import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join } from 'node:path'
import { ROOT } from '@has/test-support'

const IMPORT =
  /^\s*(?:import|export)\s[^;'"()=]*?\bfrom\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory()
      ? tsFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  )
}

const packageOf = (spec: string): string =>
  spec.startsWith('@')
    ? spec.split('/').slice(0, 2).join('/')
    : (spec.split('/')[0] as string)

for (const dir of readdirSync(join(ROOT, 'packages')).sort()) {
  const root = join(ROOT, 'packages', dir)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string
    dependencies?: Record<string, string>
  }
  t.test(pkg.name, async t => {
    const used = new Set<string>()
    for (const file of tsFiles(join(root, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const spec = (m[1] ?? m[2]) as string
        if (
          spec.startsWith('.') ||
          spec.startsWith('node:') ||
          builtinModules.includes(spec)
        )
          continue
        used.add(packageOf(spec))
      }
    }
    t.same(
      [...used].sort(),
      Object.keys(pkg.dependencies ?? {}).sort(),
      'imported == declared',
    )
  })
}
