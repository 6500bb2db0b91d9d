// Every bare import in src/ is a declared dependency, and every declared
// dependency is imported, so this package never rides on a sibling's deps.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { builtinModules } from 'node:module'

const src = new URL('../src/', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies?: Record<string, string>
}
const declared = new Set(Object.keys(pkg.dependencies ?? {}))
const used = new Set<string>()
for (const f of readdirSync(src).filter(f => f.endsWith('.ts'))) {
  const text = readFileSync(new URL(f, src), 'utf8')
  const specs = [
    ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom '([^']+)'/gms),
    ...text.matchAll(/\bimport\('([^']+)'\)/g),
  ].map(m => m[1] as string)
  for (const spec of specs) {
    if (spec.startsWith('.')) continue
    if (spec.startsWith('node:') || builtinModules.includes(spec)) continue
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string)
    used.add(name)
    t.ok(declared.has(name), `${f}: ${name} is declared`)
  }
}
for (const d of declared) t.ok(used.has(d), `${d} is used`)
