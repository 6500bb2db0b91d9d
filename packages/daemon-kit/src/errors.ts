// Error codes and exit statuses shared by every daemon. Each package keeps
// its own table (built with defineErrors) so codes and README stay in sync;
// callers match on err.code, never instanceof, because two copies of this
// kit can coexist in one install.

/** Fixed exit statuses, the same for every daemon (README "Exit status"). */
export const EXIT = Object.freeze({
  OK: 0,
  RUNTIME: 1,
  USAGE: 2,
  CONFIG: 3,
})

export class HasError extends Error {
  readonly code: string
  readonly exitCode: number
  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; exitCode?: number } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause })
    this.name = 'HasError'
    this.code = code
    this.exitCode = options.exitCode ?? EXIT.RUNTIME
  }
}

export interface ErrorSpec {
  /** Template; `%s` placeholders are filled in order. */
  readonly message: string
  /** Exit status when this error ends the process (default 1). */
  readonly exit?: number
}

export type ErrorTable = Readonly<Record<string, ErrorSpec>>

export interface ErrorFactory<T extends ErrorTable> {
  readonly codes: T
  (code: keyof T & string, ...args: unknown[]): HasError
}

/** Builds a factory over a package's table: `err('TC_ERR_X', value)`. */
export function defineErrors<T extends ErrorTable>(table: T): ErrorFactory<T> {
  const make = (code: keyof T & string, ...args: unknown[]): HasError => {
    const spec = table[code]
    if (!spec) return new HasError(code, String(code))
    let i = 0
    const message = spec.message.replace(/%s/g, () => String(args[i++]))
    const cause = args.find(a => a instanceof Error)
    return new HasError(code, message, {
      exitCode: spec.exit ?? EXIT.RUNTIME,
      ...(cause ? { cause } : {}),
    })
  }
  return Object.assign(make, { codes: table })
}

/** The kit's own codes. */
export const kitError = defineErrors({
  KIT_ERR_CONFIG_INVALID: { message: 'invalid configuration: %s', exit: 3 },
  KIT_ERR_CONFIG_UNREADABLE: { message: 'cannot read %s: %s', exit: 3 },
  KIT_ERR_LINE_TOO_LONG: { message: 'line longer than %s bytes' },
  KIT_ERR_CONTROL_UNREACHABLE: { message: 'no daemon answers on %s: %s' },
  KIT_ERR_CONTROL_TIMEOUT: { message: 'control request timed out after %s ms' },
  KIT_ERR_CONTROL_REMOTE: { message: '%s' },
  KIT_ERR_LISTEN: { message: 'cannot listen on %s: %s' },
  KIT_ERR_BAD_ADDRESS: { message: 'bad address "%s": expected %s' },
  KIT_ERR_LISTEN_REMOTE: {
    message:
      'refusing a %s listener on non-loopback %s: it has no authentication; pass --%s-allow-remote to allow it',
    exit: 2,
  },
  KIT_ERR_SOCKET_PATH: { message: 'unsafe control socket path %s: %s' },
  KIT_ERR_CONTROL_ARGUMENT: {
    message: 'control argument %s contains white space or a control character',
    exit: 2,
  },
  KIT_ERR_KEY_FILE: { message: 'key file %s: %s', exit: 3 },
  KIT_ERR_STATE_FILE: { message: 'state file %s: %s' },
  KIT_ERR_CONTROL_UNSAFE: {
    message:
      'refusing to talk to control socket %s: %s (override: --control-allow-unsafe or HAS_CONTROL_ALLOW_UNSAFE=1)',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = kitError.codes
export type ErrorCode = keyof typeof errorCodes

/** True when `e` carries a string `code` (any copy of HasError, or Node). */
export function hasCode(e: unknown): e is Error & { code: string } {
  return (
    e instanceof Error && typeof (e as { code?: unknown }).code === 'string'
  )
}
