// Every import in src/ is declared in package.json, and every declared
// dependency is used.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'

t.test('imports match dependencies', async t => {
  const pkg = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { dependencies: Record<string, string> }
  const src = new URL('../src/', import.meta.url)
  const used = new Set<string>()
  for (const f of readdirSync(src)) {
    const text = readFileSync(new URL(f, src), 'utf8')
    for (const m of text.matchAll(
      /(?:^(?:import|export)[^'\n]*?from\s*|^\}\s*from\s*|import\(\s*)'([^'.][^']*)'/gm,
    )) {
      const spec = m[1] as string
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue
      used.add(
        spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] as string),
      )
    }
  }
  t.same([...used].sort(), Object.keys(pkg.dependencies).sort())
})
