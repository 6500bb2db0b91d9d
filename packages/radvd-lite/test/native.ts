// The install script (native/install.js) and the addon loader: a machine
// without the toolchain gets one clear warning at `npm ci` and
// RA_ERR_NATIVE at start, never a bare gyp trace or MODULE_NOT_FOUND.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadAddon } from '../src/native.js'

const script = fileURLToPath(new URL('../native/install.js', import.meta.url))
const inst = (await import(script)) as {
  missingTools(env: Record<string, string | undefined>): string[]
  localNodedir(
    env: Record<string, string | undefined>,
    execPath: string,
  ): string | undefined
}

function toolDir(dir: string, names: string[]): string {
  mkdirSync(dir, { recursive: true })
  for (const n of names) {
    writeFileSync(join(dir, n), '#!/bin/sh\nexit 0\n')
    chmodSync(join(dir, n), 0o755)
  }
  return dir
}

t.test('missingTools names each absent tool; env overrides count', async t => {
  const root = t.testdir({})
  const empty = toolDir(join(root, 'empty'), [])
  t.same(inst.missingTools({ PATH: empty }), [
    'python3',
    'make',
    'a C compiler (gcc)',
    'g++',
  ])
  const full = toolDir(join(root, 'full'), ['python3', 'make', 'cc', 'g++'])
  t.same(inst.missingTools({ PATH: full }), [])
  const partial = toolDir(join(root, 'partial'), ['python', 'make', 'clang'])
  t.same(
    inst.missingTools({
      PATH: partial,
      CC: 'clang -O2',
      CXX: join(partial, 'nope'),
    }),
    ['g++'],
    'python counts for python3; CC with flags; CXX as a path',
  )
  t.same(
    inst.missingTools({
      PATH: empty,
      PYTHON: join(full, 'python3'),
      MAKE: join(full, 'make'),
      CC: join(full, 'cc'),
      CXX: join(full, 'g++'),
    }),
    [],
  )
})

t.test(
  "localNodedir: the running Node's own headers unless npm has a nodedir",
  async t => {
    // One testdir per test: both layouts live in it.
    const dir = t.testdir({
      full: {
        bin: { node: '' },
        include: { node: { 'node_api.h': '', 'common.gypi': '{}' } },
      },
      bare: { bin: { node: '' } },
    })
    const prefix = join(dir, 'full')
    const bare = join(dir, 'bare')
    t.equal(inst.localNodedir({}, join(prefix, 'bin', 'node')), prefix)
    t.equal(
      inst.localNodedir(
        { npm_config_nodedir: '/opt/node' },
        join(prefix, 'bin', 'node'),
      ),
      undefined,
    )
    t.equal(inst.localNodedir({}, join(bare, 'bin', 'node')), undefined)
  },
)

t.test(
  'without a toolchain the install warns, exits 0 and builds nothing',
  async t => {
    // PATH holds node alone, so no tool can be found and nothing is built.
    const bin = t.testdir({})
    symlinkSync(process.execPath, join(bin, 'node'))
    const addon = fileURLToPath(
      new URL('../build/Release/icmp6.node', import.meta.url),
    )
    const before = statSync(addon, { throwIfNoEntry: false })?.mtimeMs
    const r = spawnSync(join(bin, 'node'), [script], {
      env: { PATH: bin },
      encoding: 'utf8',
    })
    t.equal(r.status, 0, r.stderr)
    t.match(
      r.stderr,
      /native addon NOT built: missing python3, make, a C compiler \(gcc\), g\+\+/,
    )
    t.match(
      r.stderr,
      /apt-get install make g\+\+ python3 && npm rebuild @has\/radvd-lite/,
    )
    t.match(r.stderr, /RA_ERR_NATIVE/)
    t.equal(
      statSync(addon, { throwIfNoEntry: false })?.mtimeMs,
      before,
      'existing build untouched',
    )
  },
)

t.test(
  'an addon that is missing or will not load is RA_ERR_NATIVE',
  async t => {
    t.throws(() => loadAddon('./no-such-addon.node'), {
      code: 'RA_ERR_NATIVE',
      message:
        /icmp6\.node is missing or will not load \(Cannot find module.*\); install make, g\+\+ and python3/,
    })
    const junk = join(
      t.testdir({ 'bad.node': 'not a shared object' }),
      'bad.node',
    )
    t.throws(() => loadAddon(junk), { code: 'RA_ERR_NATIVE' })
  },
)
