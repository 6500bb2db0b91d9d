// The daemon's logger: JSON lines on stdout (the kit's), plus warnings and
// errors appended to the thesis's `ErrorLog` file when one is configured.

import { pino, multistream } from 'pino'
import { createLogger, type Logger, type LogLevel } from '@has/daemon-kit'

export function createDaemonLogger(level: LogLevel, errorLog?: string): Logger {
  if (!errorLog) return createLogger({ name: 'traffic-manager', level })
  const streams = multistream([
    { level: 'trace', stream: process.stdout },
    {
      level: 'warn',
      stream: pino.destination({
        dest: errorLog,
        append: true,
        mkdir: true,
        sync: false,
      }),
    },
  ])
  return createLogger({ name: 'traffic-manager', level, destination: streams })
}
