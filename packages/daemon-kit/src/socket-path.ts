// Making a Unix control socket safe to create. The shared directory
// (/run/has) is writable by group `has`; without care any member could put
// a link or its own socket where a root daemon's socket goes. So: never
// follow a link at the path, delete only a stale socket (never a file or a
// link), create the socket with its final mode (umask around bind, no
// chmod afterwards that could follow a swapped-in link), and check the
// directory: the private default must be ours and 0700, a shared one
// should carry the sticky bit.

import { lstatSync, mkdirSync, unlinkSync, type Stats } from 'node:fs'
import { connect } from 'node:net'
import { dirname } from 'node:path'
import { tmpdir } from 'node:os'
import { kitError } from './errors.js'

/** Mode of every control socket: owner and group read/write. */
export const SOCKET_MODE = 0o660

/**
 * The private socket directory of a non-root user without
 * XDG_RUNTIME_DIR: `<tmp>/has-<uid>`. Its name is predictable, so it is
 * only used when it is a real directory owned by that user with mode 0700.
 */
export function privateRuntimeDir(uid: number, tmp: string = tmpdir()): string {
  return `${tmp}/has-${uid}`
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw kitError('KIT_ERR_SOCKET_PATH', path, (e as Error).message, e)
  }
}

export interface SocketDirCheck {
  /** A warning for the log (a shared directory without the sticky bit). */
  readonly warning?: string
}

/** Creates (0700) or checks the socket's directory; throws when unsafe. */
export function prepareSocketDir(path: string): SocketDirCheck {
  const dir = dirname(path)
  const uid = process.getuid?.() ?? -1
  const isPrivate = dir === privateRuntimeDir(uid)
  let st = lstatOrUndefined(dir)
  if (!st) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    st = lstatOrUndefined(dir)
  }
  if (!st || !st.isDirectory()) {
    throw kitError(
      'KIT_ERR_SOCKET_PATH',
      path,
      `${dir} is not a directory (a link is not followed)`,
    )
  }
  if (isPrivate && (st.uid !== uid || (st.mode & 0o7777) !== 0o700)) {
    throw kitError(
      'KIT_ERR_SOCKET_PATH',
      path,
      `${dir} must be owned by uid ${uid} with mode 0700 (found uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`,
    )
  }
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    return {
      warning: `${dir} is writable by group or others without the sticky bit: they can replace this daemon's socket; use mode 1770 or a per-daemon directory`,
    }
  }
  return {}
}

/**
 * Clears the way for bind: nothing there, or a stale socket (deleted).
 * A link or any other file is refused and left alone; a socket a live
 * daemon answers on is a conflict (KIT_ERR_LISTEN).
 */
export async function clearSocketPath(path: string): Promise<void> {
  const st = lstatOrUndefined(path)
  if (!st) return
  if (st.isSymbolicLink()) {
    throw kitError(
      'KIT_ERR_SOCKET_PATH',
      path,
      'it is a symbolic link; refusing to follow or delete it',
    )
  }
  if (!st.isSocket()) {
    throw kitError(
      'KIT_ERR_SOCKET_PATH',
      path,
      'it exists and is not a socket; refusing to delete it',
    )
  }
  if (await probe(path)) {
    throw kitError('KIT_ERR_LISTEN', path, 'another daemon is running there')
  }
  unlinkSync(path)
}

/** Runs `bind` (synchronous listen) with a umask that yields SOCKET_MODE. */
export function withSocketUmask<T>(bind: () => T): T {
  const old = process.umask(0o777 & ~SOCKET_MODE)
  try {
    return bind()
  } finally {
    process.umask(old)
  }
}

/** After bind: the path must be our socket with SOCKET_MODE. */
export function verifySocket(path: string): void {
  const st = lstatOrUndefined(path)
  if (!st || !st.isSocket() || (st.mode & 0o777) !== SOCKET_MODE) {
    throw kitError(
      'KIT_ERR_SOCKET_PATH',
      path,
      st
        ? `after bind it is not a socket with mode 660 (mode ${(st.mode & 0o7777).toString(8)})`
        : 'vanished after bind',
    )
  }
}

function probe(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
