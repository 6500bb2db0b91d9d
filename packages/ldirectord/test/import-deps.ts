// Every import in src/ is declared in package.json and every declared
// dependency is used, so the package installs and runs alone.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { builtinModules } from 'node:module'

t.test('imports match dependencies', async t => {
  const root = join(import.meta.dirname, '..')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  const used = new Set<string>()
  for (const f of readdirSync(join(root, 'src'))) {
    const text = readFileSync(join(root, 'src', f), 'utf8')
    for (const m of text.matchAll(/(?:from|import\()\s*'([^'.][^']*)'/g)) {
      const spec = m[1] as string
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue
      used.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string))
    }
  }
  t.same([...used].sort(), Object.keys(pkg.dependencies).sort())
})
