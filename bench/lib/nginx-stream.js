// nginx `stream` (TCP proxy) for the proxy benchmark. Debian's nginx-light
// is built without it; the matching dynamic module is the separate package
// libnginx-mod-stream (same source version, depends on the nginx-abi the
// installed nginx provides). Bench-only: installed here when missing, and
// only when root on a Debian-like system, so `.ci/setup` (tests, demo)
// stays unchanged.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

export const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so'
const PKG = 'libnginx-mod-stream'

const run = (cmd, args) =>
  spawnSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })

/** true when nginx was built with the stream module (not the case on Debian). */
function builtIn() {
  const r = run('nginx', ['-V'])
  return /--with-stream(\s|$)/.test(`${r.stdout}${r.stderr}`)
}

/**
 * → { ok: true, loadModule: path | null } or { ok: false, reason }.
 * loadModule is the `load_module` argument the bench's nginx.conf needs.
 */
export function ensureStreamModule() {
  if (builtIn()) return { ok: true, loadModule: null }
  if (existsSync(STREAM_MODULE)) return { ok: true, loadModule: STREAM_MODULE }
  if (process.getuid?.() !== 0)
    return {
      ok: false,
      reason: `${STREAM_MODULE} is missing and installing ${PKG} needs root`,
    }
  if (run('sh', ['-c', 'command -v apt-get']).status !== 0)
    return {
      ok: false,
      reason: `${STREAM_MODULE} is missing and there is no apt-get to install ${PKG}`,
    }
  // The module must come from the same nginx build: compare versions first.
  const nginxVer = run('dpkg-query', [
    '-W',
    '-f=${Version}',
    'nginx',
  ]).stdout?.trim()
  const cand = /Candidate:\s*(\S+)/.exec(
    run('apt-cache', ['policy', PKG]).stdout ?? '',
  )?.[1]
  if (!cand || cand === '(none)')
    return { ok: false, reason: `no ${PKG} package is available from apt` }
  if (nginxVer && cand !== nginxVer)
    return {
      ok: false,
      reason: `${PKG} ${cand} does not match the installed nginx ${nginxVer}`,
    }
  console.log(
    `bench: installing ${PKG} ${cand} (nginx stream module, bench only)`,
  )
  const r = run('apt-get', [
    'install',
    '-y',
    '-qq',
    '--no-install-recommends',
    PKG,
  ])
  // Its postinst may (re)start the distribution's nginx service; the bench
  // starts its own instances.
  run('systemctl', ['stop', 'nginx'])
  if (r.status !== 0 || !existsSync(STREAM_MODULE)) {
    return {
      ok: false,
      reason: `apt-get install ${PKG} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-2).join(' ')}`,
    }
  }
  return { ok: true, loadModule: STREAM_MODULE }
}
