import t from 'tap'
import { loadedPackages } from '@has/test-support'

// Issue 18.12: what each process loads before it can serve. The built
// modules are loaded in a child (run `npx tsc -b` first) by
// loadedPackages, which lists every package the import resolved.
const dist = (f: string): string =>
  new URL(`../dist/${f}`, import.meta.url).href

t.test('a proxy worker loads the logger and nothing else', async t => {
  t.same(await loadedPackages(dist('proxy-worker.js')), ['pino'])
})

t.test('the main process starts without prom-client or chokidar', async t => {
  const main = await loadedPackages(dist('cli.js'))
  t.notOk(main.includes('prom-client'), 'metrics come once it serves')
  t.notOk(main.includes('chokidar'), 'it watches no file')
})
