// Which packages loading a module pulls in (issue 18.12: what a daemon
// pays before it serves). The module is imported in a child process that
// records every resolved URL (fixtures/loaded-packages.mjs), so the test
// process's own imports do not count. Load built modules (`npx tsc -b`).

import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const fixture = fileURLToPath(
  new URL('../fixtures/loaded-packages.mjs', import.meta.url),
)

/** The sorted node_modules package names that importing `url` resolved. */
export function loadedPackages(url: string): Promise<string[]> {
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
