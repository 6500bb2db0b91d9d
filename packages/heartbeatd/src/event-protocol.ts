// The membership event line protocol (PROTOCOL.md "Membership events"),
// pure: formatting server lines and parsing client lines.

export const EVENT_PROTOCOL_VERSION = 1
export const EVENT_MAX_LINE = 256

export type ServerLine =
  | { readonly type: 'hello'; readonly node: string }
  | { readonly type: 'node'; readonly node: string; readonly alive: boolean }
  | {
      readonly type: 'resource'
      readonly group: string
      readonly holder: string | null
    }
  | { readonly type: 'active'; readonly node: string | null }
  | { readonly type: 'sync' }
  | { readonly type: 'pong' }
  | { readonly type: 'err'; readonly code: string; readonly text: string }

// Field grammars (PROTOCOL.md "Server lines"). Both directions check them:
// a field with a space or a line break in it would split one event into
// two on the wire, so the encoder refuses it rather than escape it.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const CODE = /^[A-Z][A-Z0-9_]{0,62}$/
/** Printable ASCII, no control characters (so no CR or LF). */
const TEXT = /^[\x20-\x7e]{0,200}$/
/** A whole server line: the longest is an ERR with a 200-character text. */
const LINE = /^[\x20-\x7e]{1,300}$/

function need(ok: boolean, what: string, value: string): void {
  if (!ok)
    throw new RangeError(
      `event line: ${what} ${JSON.stringify(value)} does not match its grammar`,
    )
}

/**
 * One server line, LF-terminated. Throws RangeError when a field does not
 * match its grammar (a name with a space or line break, an empty code):
 * never emits a second line.
 */
export function formatServerLine(m: ServerLine): string {
  const name = (s: string): string => (need(NAME.test(s), 'name', s), s)
  const orNone = (s: string | null): string => (s === null ? 'none' : name(s))
  switch (m.type) {
    case 'hello':
      return `HELLO ${EVENT_PROTOCOL_VERSION} ${name(m.node)}\n`
    case 'node':
      return `NODE ${name(m.node)} ${m.alive ? 'alive' : 'dead'}\n`
    case 'resource':
      return `RESOURCE ${name(m.group)} ${orNone(m.holder)}\n`
    case 'active':
      return `ACTIVE ${orNone(m.node)}\n`
    case 'sync':
      return 'SYNC\n'
    case 'pong':
      return 'PONG\n'
    case 'err':
      need(CODE.test(m.code), 'code', m.code)
      need(TEXT.test(m.text), 'text', m.text)
      return m.text ? `ERR ${m.code} ${m.text}\n` : `ERR ${m.code}\n`
  }
}

/**
 * Parses one server line without its LF (for clients and tests);
 * undefined if any field breaks its grammar, including a stray CR or LF.
 */
export function parseServerLine(line: string): ServerLine | undefined {
  if (line.length > 300 || !LINE.test(line)) return undefined
  const w = line.split(' ')
  const name = (s: string | undefined): s is string =>
    s !== undefined && NAME.test(s)
  switch (w[0]) {
    case 'HELLO':
      return w.length === 3 && w[1] === '1' && name(w[2])
        ? { type: 'hello', node: w[2] }
        : undefined
    case 'NODE':
      return w.length === 3 &&
        name(w[1]) &&
        (w[2] === 'alive' || w[2] === 'dead')
        ? { type: 'node', node: w[1], alive: w[2] === 'alive' }
        : undefined
    case 'RESOURCE':
      return w.length === 3 && name(w[1]) && name(w[2])
        ? {
            type: 'resource',
            group: w[1],
            holder: w[2] === 'none' ? null : w[2],
          }
        : undefined
    case 'ACTIVE':
      return w.length === 2 && name(w[1])
        ? { type: 'active', node: w[1] === 'none' ? null : w[1] }
        : undefined
    case 'SYNC':
      return w.length === 1 ? { type: 'sync' } : undefined
    case 'PONG':
      return w.length === 1 ? { type: 'pong' } : undefined
    case 'ERR': {
      // The same grammar as formatServerLine: a text longer than 200
      // characters is a protocol error here too, not a line to pass on.
      const text = w.slice(2).join(' ')
      return w.length >= 2 && CODE.test(w[1] ?? '') && TEXT.test(text)
        ? { type: 'err', code: w[1] as string, text }
        : undefined
    }
    default:
      return undefined
  }
}

export type ClientLine =
  | { readonly type: 'ping' }
  | { readonly type: 'error'; readonly code: string; readonly text: string }

/** Parses what a client sent: only PING is a command. */
export function parseClientLine(line: string): ClientLine {
  const t = line.trim()
  if (t === 'PING') return { type: 'ping' }
  if (t === '' || !/^[A-Z]+( |$)/.test(t)) {
    return {
      type: 'error',
      code: 'HB_ERR_EVENT_SYNTAX',
      text: 'bad client line',
    }
  }
  return {
    type: 'error',
    code: 'HB_ERR_EVENT_UNKNOWN',
    text: `unknown command "${t.split(' ')[0]}"`,
  }
}
