// BIRD's control socket protocol (what birdc speaks), as pure functions.
// Every reply line is `DDDD-text` (more follows), `DDDD text` (last line
// of the reply) or ` text` (continuation of the previous code); lines
// beginning `+` are spontaneous notices outside any reply. Codes 0xxx are
// success, 1xxx/2xxx table rows and headings, 8xxx run-time and 9xxx parse
// errors (BIRD's doc/reply_codes). See PROTOCOL.md.

export interface ReplyLine {
  readonly code: number
  readonly text: string
}

export interface BirdReply {
  /** Code of the final line; >= 8000 is an error. */
  readonly code: number
  readonly text: string
  /** Every line before the final one. */
  readonly lines: readonly ReplyLine[]
}

/** BIRD's informational codes we act on. */
export const BIRD = {
  WELCOME: 1,
  ALREADY_DISABLED: 8,
  DISABLED: 9,
  ALREADY_ENABLED: 10,
  ENABLED: 11,
  PROTOCOL_ROW: 1002,
} as const

/** Longest line accepted before the stream is declared broken. */
export const BIRD_MAX_LINE = 64 * 1024

export class BirdSyntaxError extends Error {
  constructor(readonly line: string) {
    super(`not a BIRD reply line: ${JSON.stringify(line.slice(0, 80))}`)
    this.name = 'BirdSyntaxError'
  }
}

/**
 * Streaming parser: push() text as it arrives, get back the replies it
 * completed. Throws BirdSyntaxError on a line that fits no form (the
 * caller drops the connection: request and reply would be out of step).
 */
export class BirdReplyParser {
  #buf = ''
  #lines: ReplyLine[] = []
  #lastCode = -1

  push(chunk: string): BirdReply[] {
    const buf = this.#buf + chunk
    const out: BirdReply[] = []
    // Scan by index and cut the rest once: re-slicing the buffer per line
    // made a chunk of many lines quadratic.
    let from = 0
    let nl: number
    while ((nl = buf.indexOf('\n', from)) >= 0) {
      // A whole line that arrived in one chunk is held to the same limit
      // as a partial one.
      if (nl - from > BIRD_MAX_LINE)
        throw new BirdSyntaxError(buf.slice(from, nl))
      const r = this.#line(buf.slice(from, nl))
      from = nl + 1
      if (r) out.push(r)
    }
    this.#buf = from === 0 ? buf : buf.slice(from)
    if (this.#buf.length > BIRD_MAX_LINE) throw new BirdSyntaxError(this.#buf)
    return out
  }

  #line(line: string): BirdReply | undefined {
    if (line.startsWith('+')) return undefined
    if (line.startsWith(' ')) {
      if (this.#lastCode < 0) throw new BirdSyntaxError(line)
      this.#lines.push({ code: this.#lastCode, text: line.slice(1) })
      return undefined
    }
    const m = /^(\d{4})([ -])(.*)$/.exec(line)
    if (!m) throw new BirdSyntaxError(line)
    const code = Number(m[1])
    const text = m[3] ?? ''
    if (m[2] === '-') {
      this.#lastCode = code
      this.#lines.push({ code, text })
      return undefined
    }
    const reply = { code, text, lines: this.#lines }
    this.#lines = []
    this.#lastCode = -1
    return reply
  }
}

export type ProtocolCommand = 'enable' | 'disable' | 'show protocols'

/** One command line; the name is quoted so an unknown one is 8003, not a parse error. */
export function formatCommand(
  command: ProtocolCommand,
  protocol: string,
): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(protocol))
    throw new Error(`bad BIRD protocol name ${JSON.stringify(protocol)}`)
  return `${command} "${protocol}"\n`
}

export const isError = (r: BirdReply): boolean => r.code >= 8000

/**
 * enable/disable outcome: whether BIRD changed the state or it already was
 * so. Only the command's own codes count (0011/0010 for enable, 0009/0008
 * for disable): any other answer is an error, never a success.
 */
export function toggleOutcome(
  r: BirdReply,
  command: 'enable' | 'disable',
): 'changed' | 'unchanged' | 'error' {
  if (isError(r)) return 'error'
  const [done, already] =
    command === 'enable'
      ? [BIRD.ENABLED, BIRD.ALREADY_ENABLED]
      : [BIRD.DISABLED, BIRD.ALREADY_DISABLED]
  const codes = r.lines.map(l => l.code)
  if (codes.includes(done)) return 'changed'
  if (codes.includes(already)) return 'unchanged'
  return 'error'
}

export interface ProtocolRow {
  readonly name: string
  readonly proto: string
  readonly table: string
  readonly state: string
}

/** Rows (code 1002) of a `show protocols` reply. */
export function parseProtocolRows(r: BirdReply): ProtocolRow[] {
  return r.lines
    .filter(l => l.code === BIRD.PROTOCOL_ROW)
    .map(l => {
      const [name = '', proto = '', table = '', state = ''] = l.text
        .trim()
        .split(/\s+/)
      return { name, proto, table, state }
    })
}
