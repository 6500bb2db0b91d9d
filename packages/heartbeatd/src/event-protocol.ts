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

export function formatServerLine(m: ServerLine): string {
  switch (m.type) {
    case 'hello':
      return `HELLO ${EVENT_PROTOCOL_VERSION} ${m.node}\n`
    case 'node':
      return `NODE ${m.node} ${m.alive ? 'alive' : 'dead'}\n`
    case 'resource':
      return `RESOURCE ${m.group} ${m.holder ?? 'none'}\n`
    case 'active':
      return `ACTIVE ${m.node ?? 'none'}\n`
    case 'sync':
      return 'SYNC\n'
    case 'pong':
      return 'PONG\n'
    case 'err':
      return `ERR ${m.code} ${m.text.replace(/[\r\n]+/g, ' ')}\n`
  }
}

/** Parses a server line (for clients and tests); undefined if malformed. */
export function parseServerLine(line: string): ServerLine | undefined {
  const w = line.split(' ')
  const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
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
    case 'ERR':
      return w.length >= 2 && w[1]
        ? { type: 'err', code: w[1], text: w.slice(2).join(' ') }
        : undefined
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
