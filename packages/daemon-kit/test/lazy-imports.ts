import t from 'tap'
import { loadedPackages } from '@has/test-support'

// Issue 18.12: what a daemon pays before it serves. The built modules are
// loaded in a child (run `npx tsc -b` first), which prints every package
// the import resolved.
const dist = (f: string): string =>
  new URL(`../dist/${f}`, import.meta.url).href

t.test('core loads neither prom-client nor chokidar', async t => {
  const core = await loadedPackages(dist('core.js'))
  t.notOk(core.includes('prom-client'), 'no prom-client')
  t.notOk(core.includes('chokidar'), 'no chokidar')
  t.ok(core.includes('pino'), 'the logger is there')
})

t.test('the index still gives the metric types (prom-client)', async t => {
  const index = await loadedPackages(dist('index.js'))
  t.ok(index.includes('prom-client'))
  t.notOk(index.includes('chokidar'), 'chokidar only when watching')
})

t.test('the small subpaths load only what they name', async t => {
  t.same(await loadedPackages(dist('clock.js')), [])
  t.same(await loadedPackages(dist('errors.js')), [])
  t.same(await loadedPackages(dist('logger.js')), ['pino'])
})
