// pino, JSON lines on stdout. The logger is created once by the CLI and
// injected into the library; nothing here is a module-level singleton.

import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

export const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s)
}

export interface LoggerOptions {
  readonly name: string
  readonly level?: LogLevel
  /** Defaults to stdout; tests pass a sink. */
  readonly destination?: DestinationStream
}

export function createLogger(opts: LoggerOptions): Logger {
  const options = {
    name: opts.name,
    level: opts.level ?? 'info',
    base: { pid: process.pid, daemon: opts.name },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
  return opts.destination ? pino(options, opts.destination) : pino(options)
}

/** A logger that drops everything, for library users who pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
