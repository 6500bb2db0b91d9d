// No package has an import cycle, type-only imports included: a cycle makes
// module initialisation order matter and hides which file owns a type.
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { ROOT } from '@has/test-support'

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap(f => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return sources(p)
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : []
  })
}

/** Relative imports and re-exports of a file, as .ts paths. */
function edges(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/\bfrom '(\.{1,2}\/[^']+)\.js'/g)) {
    out.push(normalize(join(dirname(file), `${m[1]}.ts`)))
  }
  return out
}

/** Every cycle found by a depth-first walk, each as a path list. */
export function findCycles(files: readonly string[]): string[][] {
  const graph = new Map(files.map(f => [f, edges(f)]))
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const cycles: string[][] = []
  const visit = (f: string): void => {
    state.set(f, 'open')
    stack.push(f)
    for (const next of graph.get(f) ?? []) {
      const s = state.get(next)
      if (s === 'open') cycles.push(stack.slice(stack.indexOf(next)))
      else if (s === undefined && graph.has(next)) visit(next)
    }
    stack.pop()
    state.set(f, 'done')
  }
  for (const f of files) if (!state.has(f)) visit(f)
  return cycles
}

const packages = join(ROOT, 'packages')
for (const pkg of readdirSync(packages).sort()) {
  const src = join(packages, pkg, 'src')
  t.test(`${pkg}: no import cycle in src/`, async t => {
    const cycles = findCycles(sources(src))
    t.same(
      cycles.map(c => c.map(f => f.slice(src.length + 1)).join(' -> ')),
      [],
    )
  })
}

t.test('the walk finds a cycle when there is one', async t => {
  const dir = t.testdir({
    'a.ts': "import type { B } from './b.js'\nexport type A = B\n",
    'b.ts': "import type { A } from './a.js'\nexport type B = A\n",
    'c.ts': 'export const c = 1\n',
  })
  const cycles = findCycles(sources(dir))
  t.equal(cycles.length, 1)
  t.same(
    cycles[0]?.map(f => f.slice(dir.length + 1)),
    ['a.ts', 'b.ts'],
  )
})
