#!/usr/bin/env node
// The package's install script: builds native/icmp6.c with node-gyp.
// Two things node-gyp alone gets wrong for this monorepo:
//   - without make, a C/C++ compiler or python3 it fails with a long gyp
//     trace, and the failing install script aborts `npm ci` for every
//     package, the no-root demo included. Here a missing toolchain is one
//     clear warning; the build is skipped and radvd-lite stops at start
//     with RA_ERR_NATIVE (same fix) until `npm rebuild @has/radvd-lite`.
//   - without `nodedir` it downloads Node's headers, although Debian's
//     and the official Node packages ship them in <prefix>/include/node.
// A real compile error still fails the install.

import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { delimiter, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** First executable called `name` on PATH (or `name` itself if a path). */
export function which(name, env = process.env) {
  const candidates = name.includes('/')
    ? [name]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map(d => join(d, name))
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK)
      return c
    } catch {
      // not here
    }
  }
  return undefined
}

/** The tools node-gyp's make build needs that cannot be found. */
export function missingTools(env = process.env) {
  const first = v => (v ?? '').trim().split(/\s+/)[0] ?? ''
  const need = [
    ['python3', [env.npm_config_python, env.PYTHON].filter(Boolean).concat(['python3', 'python'])],
    ['make', [first(env.MAKE) || 'make']],
    ['a C compiler (gcc)', [first(env.CC) || 'cc']],
    // gyp links the module with the C++ driver, even for C sources.
    ['g++', [first(env.CXX) || 'g++']],
  ]
  return need.filter(([, names]) => !names.some(n => which(n, env))).map(([label]) => label)
}

/** Local headers of the running Node, when npm was not told where they are. */
export function localNodedir(env = process.env, execPath = process.execPath) {
  if (env.npm_config_nodedir) return undefined
  const prefix = resolve(dirname(execPath), '..')
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) &&
    existsSync(join(prefix, 'include', 'node', 'common.gypi'))
    ? prefix
    : undefined
}

function main() {
  const missing = missingTools()
  if (missing.length > 0) {
    process.stderr.write(
      `@has/radvd-lite: native addon NOT built: missing ${missing.join(', ')}.\n` +
        '  Install them and rebuild: apt-get install make g++ python3 && npm rebuild @has/radvd-lite\n' +
        '  Until then radvd-lite exits at start with RA_ERR_NATIVE; the other packages are unaffected.\n',
    )
    return 0
  }
  // npm hands its bundled node-gyp to lifecycle scripts; else use PATH.
  const gyp = process.env.npm_config_node_gyp
  const [cmd, args] =
    gyp && existsSync(gyp) ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']]
  const nodedir = localNodedir()
  if (nodedir) args.push(`--nodedir=${nodedir}`)
  const r = spawnSync(cmd, args, { cwd: pkgDir, stdio: 'inherit' })
  if (r.error || r.status !== 0) {
    process.stderr.write(
      `@has/radvd-lite: building native/icmp6.c failed (${r.error?.message ?? `node-gyp exit ${r.status ?? r.signal}`}); ` +
        'see the gyp ERR lines above\n',
    )
    return 1
  }
  return 0
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main()
}
