// A real pino logger (daemon-kit's createLogger) whose JSON lines the test
// reads back: what a daemon logs is part of its behaviour (warnings that
// name a sysctl, rate-limited drop summaries).
import { Writable } from 'node:stream'
import { createLogger, type LogLevel, type Logger } from '@has/daemon-kit'

export interface CapturedLogger {
  readonly logger: Logger
  /** Every line written so far, parsed. */
  readonly lines: Record<string, unknown>[]
}

export function captureLogger(
  name: string,
  level: LogLevel = 'info',
): CapturedLogger {
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(c: Buffer, _e, cb) {
      for (const l of c.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: createLogger({ name, level, destination }), lines }
}
