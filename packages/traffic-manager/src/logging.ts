// The daemon's logger: JSON lines on stdout (the kit's), plus warnings and
// errors appended to the thesis's `ErrorLog` file when one is configured.
// The file is daemon-kit's ErrorLog stream, the same one traffic-client
// uses: written synchronously (a crash loses no line) and reopened on
// every reload, so logrotate can move it.

import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import {
  createErrorLogStream,
  createLogger,
  type ErrorLogStream,
  type Logger,
  type LogLevel,
} from '@has/daemon-kit/core'

export interface DaemonLogger {
  readonly logger: Logger
  /** Stdout plus the ErrorLog file; reopen(path) on start and reload. */
  readonly errorLog: ErrorLogStream
}

export function createDaemonLogger(
  level: LogLevel,
  errorLog?: string,
  out?: (line: string) => void,
): DaemonLogger {
  const stream = createErrorLogStream(out)
  const logger = createLogger({
    name: 'traffic-manager',
    level,
    destination: stream,
  })
  if (errorLog !== undefined) openErrorLog(stream, errorLog, logger)
  return { logger, errorLog: stream }
}

/**
 * Opens (or reopens) the ErrorLog, creating its directory. A file that
 * cannot be opened costs the file, not the daemon: the previous file (or
 * none) stays, and the reason is logged.
 */
export function openErrorLog(
  stream: ErrorLogStream,
  path: string | undefined,
  logger: Logger,
): void {
  try {
    if (path !== undefined) mkdirSync(dirname(path), { recursive: true })
    stream.reopen(path)
  } catch (e) {
    logger.error(
      { errorLog: path, err: (e as NodeJS.ErrnoException).code ?? String(e) },
      'cannot open ErrorLog; warnings and errors go to stdout only',
    )
  }
}
