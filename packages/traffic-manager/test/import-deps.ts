// Every bare import in src/ is a declared dependency and every declared
// dependency is imported, so the package installs and runs on its own.
// (src/nft/ belongs to the nftables data plane and is checked by its tests.)
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'

t.test('declared dependencies == imported packages', async t => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>
  }
  const src = new URL('../src/', import.meta.url)
  const used = new Set<string>()
  for (const f of readdirSync(src).filter(f => f.endsWith('.ts'))) {
    const text = readFileSync(new URL(f, src), 'utf8')
    for (const m of text.matchAll(/^(?:import|export)[^'"]*?from '([^'.][^']*)'/gm)) {
      const spec = m[1] as string
      if (spec.startsWith('node:') || builtinModules.includes(spec)) continue
      used.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string))
    }
  }
  t.same([...used].sort(), Object.keys(pkg.dependencies).sort())
})
