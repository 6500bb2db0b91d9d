// Is a sync target reachable at all? A TCP connect to the rsync daemon
// (rsync://host[:port]/, port 873) or the remote shell (host:/dir, ssh's
// port 22), bounded by `sync-connect-timeout`, before each pass: without
// it an unreachable target looks like a running pass for rsync's 30 s.
// The endpoint parsing is pure; probeTarget is the only socket.

import { connect } from 'node:net'
import { parseIntRange } from '@has/daemon-kit'

export interface Endpoint {
  readonly host: string
  readonly port: number
}

const RSYNCD_PORT = 873
const SSH_PORT = 22

/** The endpoint a target connects to; undefined for a local directory. */
export function targetEndpoint(target: string): Endpoint | undefined {
  if (target.startsWith('/')) return undefined
  if (target.startsWith('rsync://')) {
    const rest = target.slice('rsync://'.length)
    const slash = rest.indexOf('/')
    const authority = withoutUser(slash < 0 ? rest : rest.slice(0, slash))
    return hostPort(authority, RSYNCD_PORT)
  }
  // host:/dir, [v6]:/dir, user@host:/dir: the remote shell (ssh).
  const at = target.indexOf('@')
  const rest =
    at >= 0 && at < target.indexOf(':') ? target.slice(at + 1) : target
  const colon = rest.startsWith('[')
    ? rest.indexOf(']:') + 1
    : rest.indexOf(':')
  if (colon <= 0) return undefined
  return { host: unbracket(rest.slice(0, colon)), port: SSH_PORT }
}

function withoutUser(s: string): string {
  const at = s.lastIndexOf('@')
  return at < 0 ? s : s.slice(at + 1)
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h
}

function hostPort(authority: string, dflt: number): Endpoint | undefined {
  const close = authority.startsWith('[') ? authority.indexOf(']') : -1
  const colon = authority.indexOf(':', close < 0 ? 0 : close)
  const host = unbracket(colon < 0 ? authority : authority.slice(0, colon))
  const port =
    colon < 0 ? dflt : parseIntRange(authority.slice(colon + 1), 1, 65535)
  return host === '' || port === undefined ? undefined : { host, port }
}

/** Resolves undefined when a TCP connection opens within timeoutMs, else why not. */
export function probeTarget(
  ep: Endpoint,
  timeoutMs: number,
): Promise<string | undefined> {
  return new Promise(resolve => {
    const s = connect({ host: ep.host, port: ep.port })
    const done = (why: string | undefined): void => {
      clearTimeout(timer)
      s.destroy()
      resolve(why)
    }
    const timer = setTimeout(
      () => done(`no answer within ${timeoutMs} ms`),
      timeoutMs,
    )
    s.once('connect', () => done(undefined))
    s.once('error', e => done((e as NodeJS.ErrnoException).code ?? e.message))
  })
}
