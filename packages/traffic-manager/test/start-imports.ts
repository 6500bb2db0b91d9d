import t from 'tap'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Issue 18.12: what each process loads before it can serve. The built
// modules are loaded in a child (run `npx tsc -b` first) by daemon-kit's
// fixture, which prints every package the import resolved.
const fixture = fileURLToPath(
  new URL(
    '../../daemon-kit/test/fixtures/loaded-packages.mjs',
    import.meta.url,
  ),
)
const dist = (f: string): string =>
  new URL(`../dist/${f}`, import.meta.url).href

function loadedPackages(url: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [fixture, url],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`loading ${url}: ${err.message} ${stderr}`))
        else resolve(JSON.parse(stdout) as string[])
      },
    )
  })
}

t.test('a proxy worker loads the logger and nothing else', async t => {
  t.same(await loadedPackages(dist('proxy-worker.js')), ['pino'])
})

t.test('the main process starts without prom-client or chokidar', async t => {
  const main = await loadedPackages(dist('cli.js'))
  t.notOk(main.includes('prom-client'), 'metrics come once it serves')
  t.notOk(main.includes('chokidar'), 'it watches no file')
})
