// The one rule for secret key files (report keys, sync keys, authkeys):
// a regular file, not readable or writable by group or others (0600 or
// stricter, as ssh insists for private keys), at least KEY_MIN_BYTES of key.
//
// How the content becomes key bytes (each package names its rule in its
// PROTOCOL.md; the rule never changes what is on the wire for a package):
//   'trim'        the whole file, leading and trailing white space removed
//                 (`echo secret > file` leaves a newline; it is not key)
//   'first-line'  the first line, white space around it removed
//   'exact'       every byte, as is
// The HMAC key is the UTF-8 encoding of that text.

import { open } from 'node:fs/promises'
import { EXIT, HasError } from './errors.js'

/** Shortest key any has daemon accepts from a key file, in bytes. */
export const KEY_MIN_BYTES = 16
/** Longest key file read; a larger one is refused (it is not a key). */
export const KEY_FILE_MAX_BYTES = 64 * 1024

export type KeyTextRule = 'trim' | 'first-line' | 'exact'

export interface KeyFileOptions {
  /** How the content becomes the key (default 'trim'). */
  readonly text?: KeyTextRule
  /** Minimum key length in bytes (default KEY_MIN_BYTES; 0: no check, for files that hold several keys). */
  readonly minBytes?: number
}

/**
 * KIT_ERR_KEY_FILE; `reason` is the message without the path, for file:line
 * issues; `errno` the system error code when the file could not be read.
 */
export class KeyFileError extends HasError {
  readonly path: string
  readonly reason: string
  readonly errno?: string
  constructor(path: string, reason: string, cause?: unknown) {
    super('KIT_ERR_KEY_FILE', `key file ${path}: ${reason}`, {
      exitCode: EXIT.CONFIG,
      ...(cause === undefined ? {} : { cause }),
    })
    this.name = 'KeyFileError'
    this.path = path
    this.reason = reason
    const errno = (cause as NodeJS.ErrnoException | undefined)?.code
    if (typeof errno === 'string') this.errno = errno
  }
}

/** The reason a key file with this mode is refused, or undefined when private. */
export function keyFileModeProblem(mode: number): string | undefined {
  if ((mode & 0o077) === 0) return undefined
  return `readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`
}

/** Applies a KeyTextRule to file content (pure). */
export function keyText(content: string, rule: KeyTextRule = 'trim'): string {
  if (rule === 'exact') return content
  if (rule === 'first-line') {
    const nl = content.indexOf('\n')
    return (nl < 0 ? content : content.slice(0, nl)).trim()
  }
  return content.trim()
}

/**
 * Reads a key file under the one rule; throws KeyFileError (exit 3) naming
 * the file and, for a mode problem, the mode. The mode is checked on the
 * opened file, so a swap between check and read cannot slip through.
 */
export async function readKeyFile(
  path: string,
  opts: KeyFileOptions = {},
): Promise<string> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (e) {
    throw new KeyFileError(
      path,
      `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      e,
    )
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw new KeyFileError(path, 'is not a regular file')
    const problem = keyFileModeProblem(st.mode)
    if (problem) throw new KeyFileError(path, problem)
    if (st.size > KEY_FILE_MAX_BYTES) {
      throw new KeyFileError(
        path,
        `is larger than ${KEY_FILE_MAX_BYTES} bytes; not a key file`,
      )
    }
    const key = keyText((await fh.readFile()).toString('utf8'), opts.text)
    const min = opts.minBytes ?? KEY_MIN_BYTES
    if (Buffer.byteLength(key, 'utf8') < min) {
      throw new KeyFileError(
        path,
        `holds fewer than ${min} bytes of key (at least ${min} bytes required)`,
      )
    }
    return key
  } catch (e) {
    if (e instanceof KeyFileError) throw e
    throw new KeyFileError(
      path,
      `cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      e,
    )
  } finally {
    await fh.close()
  }
}
