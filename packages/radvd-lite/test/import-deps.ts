// Every package import in src/ is declared in package.json, and every
// declared dependency is used, so this package never rides on a sibling's.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'

t.test('imports match dependencies', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }
  const src = new URL('../src/', import.meta.url)
  const used = new Set<string>()
  for (const f of readdirSync(src).filter(f => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(f, src), 'utf8')
    for (const m of text.matchAll(/from '([^'.][^']*)'|import\('([^'.][^']*)'\)/g)) {
      const spec = (m[1] ?? m[2])!
      if (spec.startsWith('node:')) continue
      used.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!)
    }
  }
  t.same([...used].sort(), Object.keys(pkg.dependencies).sort())
})
