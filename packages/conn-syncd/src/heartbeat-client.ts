// Optional: heartbeatd's membership stream (HELLO, NODE, RESOURCE, ACTIVE,
// SYNC lines). conn-syncd only reacts: a node coming alive gets a full
// table (it may have restarted), becoming active triggers a refresh.

import { connect, type Socket } from 'node:net'
import { LineSplitter, type HostPort, type Logger } from '@has/daemon-kit'
import { parseServerLine } from '@has/heartbeatd/protocol'

export type MembershipEvent =
  | { readonly kind: 'node'; readonly node: string; readonly alive: boolean }
  | { readonly kind: 'active'; readonly node: string | undefined }

/**
 * The events conn-syncd reacts to, from one server line; other lines
 * (HELLO, RESOURCE, SYNC, PONG, ERR) and lines that break the grammar give
 * undefined. The grammar is heartbeatd's own codec, not a second copy.
 */
export function parseMembershipLine(line: string): MembershipEvent | undefined {
  const m = parseServerLine(line)
  if (m?.type === 'node') return { kind: 'node', node: m.node, alive: m.alive }
  if (m?.type === 'active') return { kind: 'active', node: m.node ?? undefined }
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
