// Optional: heartbeatd's membership stream (HELLO, NODE, RESOURCE, ACTIVE,
// SYNC lines). conn-syncd only reacts: a node coming alive gets a full
// table (it may have restarted), becoming active triggers a refresh.

import { connect, type Socket } from 'node:net'
import { LineSplitter, type HostPort, type Logger } from '@has/daemon-kit'

export type MembershipEvent =
  | { readonly kind: 'node'; readonly node: string; readonly alive: boolean }
  | { readonly kind: 'active'; readonly node: string | undefined }

export function parseMembershipLine(line: string): MembershipEvent | undefined {
  const w = line.trim().split(/\s+/)
  if (w[0] === 'NODE' && w[1] && (w[2] === 'alive' || w[2] === 'dead'))
    return { kind: 'node', node: w[1], alive: w[2] === 'alive' }
  if (w[0] === 'ACTIVE' && w[1])
    return { kind: 'active', node: w[1] === 'none' ? undefined : w[1] }
  return undefined
}

export function followHeartbeat(
  at: HostPort,
  onEvent: (e: MembershipEvent) => void,
  logger: Logger,
): () => void {
  let socket: Socket | undefined
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const start = (): void => {
    if (closed) return
    const s = connect(at.port, at.host)
    socket = s
    const splitter = new LineSplitter(
      4096,
      line => {
        const e = parseMembershipLine(line)
        if (e) onEvent(e)
      },
      () => s.destroy(),
    )
    s.on('data', c => splitter.push(c))
    s.once('connect', () =>
      logger.info(
        { heartbeat: `${at.host}:${at.port}` },
        'following heartbeatd membership',
      ),
    )
    s.on('error', () => undefined)
    s.once('close', () => {
      if (!closed) timer = setTimeout(start, 2000)
    })
  }
  start()
  return () => {
    closed = true
    clearTimeout(timer)
    socket?.destroy()
  }
}
