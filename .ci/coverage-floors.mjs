#!/usr/bin/env node
// Enforces a coverage floor per package after `tap` has run with coverage
// (tap writes .tap/report/coverage-summary.json with the json-summary
// reporter). tap's own thresholds are global; the floors here are per
// package so that a well-tested package cannot hide a poorly tested one.
// Files that are hard to cover are listed in .ci/coverage-map.json with the
// reason, and left out of their package's figure: the reason is on record,
// the floor stays where the rest of the package is.
//   node .ci/coverage-floors.mjs [summary.json]   exit 1 when a floor is missed
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const summaryPath =
  process.argv[2] ?? join(root, '.tap', 'report', 'coverage-summary.json')
const map = JSON.parse(
  readFileSync(join(root, '.ci', 'coverage-map.json'), 'utf8'),
)

// The floors count the root-only integration tests (namespaces, nft,
// spawned daemons); without root they are skipped and no floor can hold.
if (process.getuid?.() !== 0 && !process.env.HAS_COVERAGE_ANY_USER) {
  console.log(
    'coverage: not root: root-only tests were skipped; floors not checked',
  )
  process.exit(0)
}

let summary
try {
  summary = JSON.parse(readFileSync(summaryPath, 'utf8'))
} catch (e) {
  console.error(`coverage: cannot read ${summaryPath}: ${e.message}`)
  console.error('coverage: run tap with coverage on (npm test does) first')
  process.exit(1)
}

const KINDS = ['lines', 'branches', 'functions']
const totals = new Map()
for (const [file, s] of Object.entries(summary)) {
  if (file === 'total') continue
  // By path shape, not by root: a summary from another checkout reads the same.
  const m = /\/packages\/([^/]+)\/src\/(.+)$/.exec(file)
  if (!m) continue
  const [, pkg, path] = m
  const spec = map.packages[pkg]
  if (!spec) continue
  if (spec.excluded && Object.hasOwn(spec.excluded, `src/${path}`)) continue
  const t = totals.get(pkg) ?? {
    lines: [0, 0],
    branches: [0, 0],
    functions: [0, 0],
  }
  for (const k of KINDS) {
    t[k][0] += s[k].covered
    t[k][1] += s[k].total
  }
  totals.set(pkg, t)
}

const pct = ([covered, total]) => (total === 0 ? 100 : (100 * covered) / total)
let failed = 0
const rows = []
for (const [pkg, spec] of Object.entries(map.packages).sort()) {
  const t = totals.get(pkg)
  if (!t) {
    rows.push(`${pkg.padEnd(16)} no coverage data (did its tests run?)`)
    failed++
    continue
  }
  const cells = KINDS.map(k => {
    const got = pct(t[k])
    const floor = spec.floor[k] ?? 0
    const ok = got + 1e-9 >= floor
    if (!ok) failed++
    return `${k} ${got.toFixed(1)}% (floor ${floor})${ok ? '' : ' MISSED'}`
  })
  rows.push(`${pkg.padEnd(16)} ${cells.join('  ')}`)
}
console.log(
  'coverage per package (src/, files excluded in .ci/coverage-map.json left out):',
)
for (const r of rows) console.log(`  ${r}`)
if (failed) {
  console.error(`coverage: ${failed} floor(s) missed`)
  process.exit(1)
}
