// Reading line-oriented config files so that every problem can name the
// file, the line and the bad value. Grammars differ per daemon (tcd.conf,
// ha.cf, ldirectord.cf, radvd.conf); what they share is here: comments,
// continuation lines, indentation, and an issue list that becomes one error.

import { readFile } from 'node:fs/promises'
import { HasError, EXIT, kitError } from './errors.js'

export interface SourceLine {
  readonly file: string
  /** 1-based line number of the line's first physical line. */
  readonly line: number
  /** The line without comment and surrounding white space. */
  readonly text: string
  /** Leading white-space width (tab counts as 8), for indented sections. */
  readonly indent: number
}

export interface SourceOptions {
  /** Comment start characters (default `#`). */
  readonly comment?: string
  /** Join lines ending in a backslash (default true). */
  readonly continuation?: boolean
  /**
   * Longest logical line (after joining continuations), in characters;
   * default SOURCE_MAX_LINE. A longer line is a config error at its
   * file:line, so no parser ever sees unbounded input.
   */
  readonly maxLineLength?: number
  /** Report over-long lines here and skip them; without it they throw. */
  readonly issues?: IssueList
}

/** Default line length limit of sourceLines (characters). */
export const SOURCE_MAX_LINE = 8192

/**
 * Splits config text into meaningful lines; blank and comment-only lines go.
 * Linear in the input: one pass, no regular expression that can backtrack,
 * continuation parts joined once at the end (not re-copied per line).
 */
export function sourceLines(
  text: string,
  file: string,
  opts: SourceOptions = {},
): SourceLine[] {
  const comment = opts.comment ?? '#'
  const continuation = opts.continuation ?? true
  const max = opts.maxLineLength ?? SOURCE_MAX_LINE
  const out: SourceLine[] = []
  const tooLong: ConfigIssue[] = []
  const raw = text.split('\n')
  for (let i = 0; i < raw.length; i++) {
    const start = i
    let physical = dropCr(raw[i] ?? '')
    let length = physical.length
    let over = length > max
    if (continuation) {
      const parts: string[] = []
      let cut = continuedAt(physical)
      while (cut >= 0 && i + 1 < raw.length) {
        parts.push(physical.slice(0, cut), ' ')
        physical = trimStartLinear(dropCr(raw[++i] ?? ''))
        length += physical.length
        // Stop growing a line that is already refused; keep walking its
        // continuations so the next line number stays right.
        if (length > max) over = true
        cut = continuedAt(physical)
      }
      if (!over && parts.length) physical = parts.join('') + physical
    }
    if (over) {
      tooLong.push({
        file,
        line: start + 1,
        message: `line longer than ${max} characters`,
      })
      continue
    }
    const body = stripComment(physical, comment)
    const text = body.trim()
    if (text === '') continue
    out.push({ file, line: start + 1, text, indent: indentWidth(body) })
  }
  if (tooLong.length) {
    if (!opts.issues) throw new ConfigError(tooLong)
    for (const t of tooLong) opts.issues.error(t, t.message)
  }
  return out
}

function dropCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}

function isSpace(c: number): boolean {
  return (
    c === 32 ||
    c === 9 ||
    c === 11 ||
    c === 12 ||
    c === 13 ||
    c === 0xa0 ||
    c === 0xfeff
  )
}

/**
 * When the line ends in a backslash (white space after it allowed), the
 * index where the kept text ends (white space before the backslash
 * dropped); otherwise -1.
 */
function continuedAt(line: string): number {
  let j = line.length - 1
  while (j >= 0 && isSpace(line.charCodeAt(j))) j--
  if (j < 0 || line.charCodeAt(j) !== 92) return -1
  j--
  while (j >= 0 && isSpace(line.charCodeAt(j))) j--
  return j + 1
}

function trimStartLinear(line: string): string {
  let j = 0
  while (j < line.length && isSpace(line.charCodeAt(j))) j++
  return j === 0 ? line : line.slice(j)
}

function stripComment(line: string, comment: string): string {
  let quote: string | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = null
    } else if (c === '"' || c === "'") quote = c
    else if (comment.includes(c)) return line.slice(0, i)
  }
  return line
}

function indentWidth(line: string): number {
  let w = 0
  for (const c of line) {
    if (c === ' ') w++
    else if (c === '\t') w += 8 - (w % 8)
    else break
  }
  return w
}

/** Splits a directive line on white space, honouring "double" quotes. */
export function splitWords(text: string): string[] {
  const words: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g
  for (const m of text.matchAll(re)) {
    words.push(
      m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string),
    )
  }
  return words
}

export interface Position {
  readonly file: string
  readonly line: number
}

export interface ConfigIssue extends Position {
  readonly message: string
  readonly value?: string
}

/** `file:line: message (got "value")`: the one format every daemon prints. */
export function formatIssue(i: ConfigIssue): string {
  const where = i.line > 0 ? `${i.file}:${i.line}` : i.file
  return i.value === undefined
    ? `${where}: ${i.message}`
    : `${where}: ${i.message} (got "${i.value}")`
}

export class ConfigError extends HasError {
  readonly issues: readonly ConfigIssue[]
  constructor(issues: readonly ConfigIssue[]) {
    super(
      'KIT_ERR_CONFIG_INVALID',
      `invalid configuration:\n  ${issues.map(formatIssue).join('\n  ')}`,
      { exitCode: EXIT.CONFIG },
    )
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/** Collects problems while a parser walks the file; never throws mid-way. */
export class IssueList {
  readonly errors: ConfigIssue[] = []
  readonly warnings: ConfigIssue[] = []
  error(at: Position, message: string, value?: string): void {
    this.errors.push(issue(at, message, value))
  }
  warn(at: Position, message: string, value?: string): void {
    this.warnings.push(issue(at, message, value))
  }
  get ok(): boolean {
    return this.errors.length === 0
  }
  /** Throws one ConfigError naming every problem, if there is any. */
  throwIfAny(): void {
    if (this.errors.length) throw new ConfigError(this.errors)
  }
}

function issue(at: Position, message: string, value?: string): ConfigIssue {
  return value === undefined
    ? { file: at.file, line: at.line, message }
    : { file: at.file, line: at.line, message, value }
}

/** Reads a config file; a missing or unreadable file is a config error (3). */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    throw kitError(
      'KIT_ERR_CONFIG_UNREADABLE',
      path,
      (e as NodeJS.ErrnoException).code ?? String(e),
    )
  }
}

/** Deep-freezes a validated config so no code can change it after checks. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
