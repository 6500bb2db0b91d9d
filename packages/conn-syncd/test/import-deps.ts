// The package must install alone: what src/ imports (bare specifiers) is
// exactly what package.json declares.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'

const packageOf = (spec: string): string =>
  spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec)

t.test('imports and dependencies agree', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>
  }
  const dir = new URL('../src/', import.meta.url)
  const imported = new Set<string>()
  for (const file of readdirSync(dir).filter(f => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(file, dir), 'utf8')
    for (const m of text.matchAll(/\bfrom '([^'.][^']*)'|import\('([^'.][^']*)'\)/g)) {
      const spec = (m[1] ?? m[2]) as string
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue
      imported.add(packageOf(spec))
    }
  }
  t.same([...imported].sort(), Object.keys(pkg.dependencies).sort())
})
