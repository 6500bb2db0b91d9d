// The client side of socket safety (issue 19.7): before a control client
// talks to a Unix socket, the socket must be one that only root or the
// caller can have put there; otherwise whoever could replace it would
// receive our commands (and answer `status` with lies). Refused: a link
// at the socket path, anything but a socket, a socket owned by neither
// root nor the caller, and a directory that others may write without the
// sticky bit or that belongs to neither. Overrides: `allowUnsafePath`
// (library), `--control-allow-unsafe` (CLIs), HAS_CONTROL_ALLOW_UNSAFE=1
// (any client, e.g. hasctl).

import { lstatSync, realpathSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { kitError } from './errors.js'

/** What the check reads from the system (a seam for unit tests). */
export interface PeerPathEnv {
  readonly uid: number
  lstat(path: string): Stats | undefined
  realpath(path: string): string
}

const systemEnv = (): PeerPathEnv => ({
  uid: process.getuid?.() ?? -1,
  lstat: p => {
    try {
      return lstatSync(p)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  },
  realpath: p => realpathSync(p),
})

let allowedByCli = false

/** `--control-allow-unsafe` on a CLI: every later request skips the check. */
export function allowUnsafeControlPaths(on = true): void {
  allowedByCli = on
}

/** True when an override is in force (option, CLI flag or environment). */
export function unsafeControlPathAllowed(
  option?: boolean,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return option === true || allowedByCli || env.HAS_CONTROL_ALLOW_UNSAFE === '1'
}

const mode = (st: Stats): string =>
  (st.mode & 0o7777).toString(8).padStart(4, '0')

/**
 * Throws KIT_ERR_CONTROL_UNSAFE when the Unix socket at `path` could have
 * been put there by someone other than root or the caller. A missing path passes (connecting then fails as
 * unreachable). Links in the directory's own path (/var/run → /run) are
 * resolved; a link at the socket path itself is refused.
 */
export function checkControlPeerPath(
  path: string,
  env: PeerPathEnv = systemEnv(),
): void {
  const refuse = (why: string): never => {
    throw kitError('KIT_ERR_CONTROL_UNSAFE', path, why)
  }
  const trusted = (uid: number): boolean => uid === 0 || uid === env.uid
  let sock: Stats | undefined
  let dir: Stats | undefined
  let dirPath = dirname(path)
  try {
    sock = env.lstat(path)
    if (!sock) return
    dirPath = env.realpath(dirPath)
    dir = env.lstat(dirPath)
  } catch (e) {
    return refuse(
      `cannot inspect it (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
    )
  }
  if (sock.isSymbolicLink())
    return refuse('it is a symbolic link; a control client never follows one')
  if (!sock.isSocket()) return refuse('it is not a socket')
  if (!dir || !dir.isDirectory()) return refuse(`${dirPath} is not a directory`)
  if (!trusted(dir.uid))
    return refuse(
      `its directory ${dirPath} belongs to uid ${dir.uid}, neither root nor you (uid ${env.uid})`,
    )
  if ((dir.mode & 0o022) !== 0 && (dir.mode & 0o1000) === 0) {
    return refuse(
      `its directory ${dirPath} (mode ${mode(dir)}) is writable by group or others without the sticky bit: anyone there could have replaced the socket`,
    )
  }
  if (!trusted(sock.uid))
    return refuse(
      `it belongs to uid ${sock.uid}, neither root nor you (uid ${env.uid})`,
    )
}
