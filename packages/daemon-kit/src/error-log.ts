// The thesis's `ErrorLog <path>`: logs stay JSON lines on stdout (journald
// keeps them), and records of level warn and above are also appended to the
// ErrorLog file, the same JSON lines. The file is reopened on every reload
// (SIGHUP), so logrotate can move it and a new path takes effect at once.

import { closeSync, openSync, writeSync } from 'node:fs'
import { pino } from 'pino'

/** pino numeric levels: 40 warn, 50 error, 60 fatal. */
const WARN_OR_WORSE = /^\{"level":(?:[4-9]\d|\d{3,})[,}]/

export interface ErrorLogStream {
  /** pino's DestinationStream. */
  write(line: string): void
  /** Opens `path` (append), closing the previous file; undefined: none. Throws on failure. */
  reopen(path: string | undefined): void
  readonly path: string | undefined
  close(): void
}

/**
 * `out` defaults to stdout the way pino writes it without a destination
 * (sonic-boom, synchronous): a line logged just before exit or a crash is
 * not lost in a pipe's queue, and a slow reader cannot make it grow.
 */
export function createErrorLogStream(
  out: (line: string) => void = stdoutWriter(),
): ErrorLogStream {
  let fd: number | undefined
  let current: string | undefined
  return {
    write(line) {
      out(line)
      if (fd !== undefined && WARN_OR_WORSE.test(line)) {
        try {
          writeSync(fd, line)
        } catch {
          // A full disk must not stop the daemon; stdout still has the line.
        }
      }
    },
    reopen(path) {
      const next = path === undefined ? undefined : openSync(path, 'a', 0o640)
      if (fd !== undefined) closeSync(fd)
      fd = next
      current = path
    },
    get path() {
      return current
    },
    close() {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    },
  }
}

function stdoutWriter(): (line: string) => void {
  const dest = pino.destination({ dest: 1, sync: true })
  return line => void dest.write(line)
}
