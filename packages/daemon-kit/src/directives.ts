// Directive tables: every daemon's config grammar is a table of
// `name -> value type`, and the value types live here so that "an integer
// 1..255" reads, parses and is reported the same way in every package.
// Parsers walk sourceLines(), look a directive up with lookupDirective()
// (own keys only: `constructor` must not find Object's), and read its value
// with readValue(), which reports a bad value to the IssueList as
// `file:line: <name> must be <expect> (got "<raw>")` and returns undefined.
// Every parser returns one shape, ConfigResult: config on success, and the
// errors and warnings either way.

import { isIP } from 'node:net'
import {
  ConfigError,
  IssueList,
  type ConfigIssue,
  type Position,
} from './config-source.js'
import {
  parseBool,
  parseDuration,
  parseHostPort,
  parseIntRange,
  parseNumberRange,
  type HostPort,
} from './units.js'

/** A value type: a parser that returns undefined on bad input, and its range in words. */
export interface ValueType<T> {
  parse(raw: string): T | undefined
  /** Completes "must be ...": `an integer 1..255`, `on or off`. */
  readonly expect: string
}

/** The one result shape of every config parser. */
export interface ConfigResult<T> {
  /** Present exactly when there are no errors. */
  readonly config?: T
  readonly errors: readonly ConfigIssue[]
  readonly warnings: readonly ConfigIssue[]
}

/** An integer in [min, max], decimal only. */
export function int(min: number, max: number): ValueType<number> {
  return {
    parse: raw => parseIntRange(raw, min, max),
    expect: `an integer ${min}..${max}`,
  }
}

/** A decimal number in [min, max]. */
export function num(min: number, max: number): ValueType<number> {
  return {
    parse: raw => parseNumberRange(raw, min, max),
    expect: `a number ${min}..${max}`,
  }
}

/**
 * A duration in ms within [minMs, maxMs]: `200ms`, `1.5s`, `2m`, or a bare
 * number in `bareUnit` (what the daemon's reference grammar uses).
 */
export function duration(
  minMs: number,
  maxMs: number,
  bareUnit: 'ms' | 's' = 'ms',
): ValueType<number> {
  return {
    parse(raw) {
      const n = parseDuration(raw, bareUnit)
      return n !== undefined && n >= minMs && n <= maxMs ? n : undefined
    },
    expect: `a duration ${formatMs(minMs)}..${formatMs(maxMs)}`,
  }
}

/** on/off, yes/no, true/false, 1/0. */
export const bool: ValueType<boolean> = {
  parse: parseBool,
  expect: 'on or off',
}

/** One of a fixed set of words (case-sensitive). */
export function oneOf<const W extends string>(
  words: readonly W[],
): ValueType<W> {
  return {
    parse: raw =>
      (words as readonly string[]).includes(raw) ? (raw as W) : undefined,
    expect: listWords(words),
  }
}

/** An IP address literal; `family` narrows it to IPv4 or IPv6. */
export function address(family?: 4 | 6): ValueType<string> {
  return {
    parse(raw) {
      const f = isIP(raw)
      return f !== 0 && (family === undefined || f === family) ? raw : undefined
    },
    expect:
      family === 4
        ? 'an IPv4 address'
        : family === 6
          ? 'an IPv6 address'
          : 'an IP address',
  }
}

/** `host:port` (IPv6 in brackets), or a bare host when defaultPort is given. */
export function hostPort(defaultPort?: number): ValueType<HostPort> {
  return {
    parse: raw => parseHostPort(raw, defaultPort),
    expect:
      defaultPort === undefined
        ? 'host:port ([v6]:port for IPv6)'
        : `host[:port] (default port ${defaultPort})`,
  }
}

/** A word matching `re` (anchor it); `expect` names it for the error. */
export function pattern(re: RegExp, expect: string): ValueType<string> {
  return { parse: raw => (re.test(raw) ? raw : undefined), expect }
}

/** Any non-empty text. */
export const text: ValueType<string> = {
  parse: raw => (raw.length > 0 ? raw : undefined),
  expect: 'a non-empty value',
}

/** Interface names as the kernel allows them (IFNAMSIZ 16 with the NUL). */
export const ifname: ValueType<string> = pattern(
  /^[A-Za-z0-9_.:@-]{1,15}$/,
  'an interface name (1-15 characters)',
)

/** The same type with an extra check (e.g. "a power of two"). */
export function refine<T>(
  type: ValueType<T>,
  ok: (v: T) => boolean,
  expect: string,
): ValueType<T> {
  return {
    parse(raw) {
      const v = type.parse(raw)
      return v !== undefined && ok(v) ? v : undefined
    },
    expect,
  }
}

/**
 * The table entry of `key`, own keys only, so `toString` or `__proto__`
 * in a config file is an unknown directive and not Object's.
 */
export function lookupDirective<D>(
  table: Readonly<Record<string, D>>,
  key: string,
): D | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}

/**
 * Parses `raw` as `type`; on failure reports `<name> must be <expect>`
 * with the raw value at `at` and returns undefined.
 */
export function readValue<T>(
  issues: IssueList,
  at: Position,
  name: string,
  type: ValueType<T>,
  raw: string,
): T | undefined {
  const v = type.parse(raw)
  if (v === undefined) issues.error(at, `${name} must be ${type.expect}`, raw)
  return v
}

/**
 * The single argument of a directive; any other count is reported as
 * `<name> takes exactly one value (got "<the words>")`.
 */
export function oneArg(
  issues: IssueList,
  at: Position,
  name: string,
  args: readonly string[],
): string | undefined {
  if (args.length === 1) return args[0]
  issues.error(at, `${name} takes exactly one value`, args.join(' '))
  return undefined
}

/** oneArg then readValue: the common case of `name value`. */
export function readOne<T>(
  issues: IssueList,
  at: Position,
  name: string,
  type: ValueType<T>,
  args: readonly string[],
): T | undefined {
  const raw = oneArg(issues, at, name, args)
  return raw === undefined ? undefined : readValue(issues, at, name, type, raw)
}

/**
 * One entry of a directive table: applies a line's words to the parser's
 * draft, reporting problems to the IssueList.
 */
export type DirectiveApply<D> = (
  draft: D,
  args: readonly string[],
  at: Position,
  issues: IssueList,
  name: string,
) => void

/** The common entry, `name value`: the value read as `type`, stored by `set`. */
export function valueDirective<D, T>(
  type: ValueType<T>,
  set: (draft: D, value: T) => void,
): DirectiveApply<D> {
  return (draft, args, at, issues, name) => {
    const v = readOne(issues, at, name, type, args)
    if (v !== undefined) set(draft, v)
  }
}

/**
 * Remembers where each directive was set; a repeat is a warning naming the
 * first line ("the last one wins", as keepalived and radvd behave).
 */
export class SeenDirectives {
  readonly #lines = new Map<string, number>()
  note(issues: IssueList, at: Position, name: string): void {
    const first = this.#lines.get(name)
    if (first !== undefined) {
      issues.warn(at, `${name} repeated (line ${first}); the last one wins`)
    }
    this.#lines.set(name, at.line)
  }
  /** Line where `name` was last set, or undefined. */
  line(name: string): number | undefined {
    return this.#lines.get(name)
  }
}

/** Builds the ConfigResult: config only when the list holds no error. */
export function configResult<T>(
  issues: IssueList,
  build: () => T,
): ConfigResult<T> {
  if (!issues.ok) return { errors: issues.errors, warnings: issues.warnings }
  const config = build()
  // build() may find a cross-directive problem and report it.
  if (!issues.ok) return { errors: issues.errors, warnings: issues.warnings }
  return { config, errors: [], warnings: issues.warnings }
}

/** The config of a result, or one ConfigError naming every problem. */
export function configOrThrow<T>(result: ConfigResult<T>): T {
  if (result.config === undefined || result.errors.length > 0) {
    throw new ConfigError(result.errors)
  }
  return result.config
}

function formatMs(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`
  return `${ms}ms`
}

function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('')
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`
}
