// The agent-check TCP listener: on connect, write the current reply and
// close. HAProxy may send `agent-send` text first; we do not wait for it,
// we read and ignore whatever arrives, so no request can hold a socket:
// every connection is destroyed a fixed time after it was accepted (not
// after a pause in traffic, which a peer sending now and then never makes).

import { createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { formatHostPort } from '@has/daemon-kit'
import { tcError } from './errors.js'

/** A connection is destroyed this long after it was accepted (PROTOCOL.md). */
export const AGENT_MAX_CONNECTION_MS = 5000

export interface AgentServer {
  readonly address: { host: string; port: number }
  close(): Promise<void>
}

export async function startAgentServer(opts: {
  addr: string
  port: number
  reply: () => string
  onAnswer?: () => void
  /** Default AGENT_MAX_CONNECTION_MS; tests shorten it. */
  maxConnectionMs?: number
}): Promise<AgentServer> {
  const maxMs = opts.maxConnectionMs ?? AGENT_MAX_CONNECTION_MS
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    sockets.add(socket)
    const deadline = setTimeout(() => socket.destroy(), maxMs)
    socket.on('close', () => {
      clearTimeout(deadline)
      sockets.delete(socket)
    })
    socket.on('error', () => socket.destroy())
    socket.on('data', () => {})
    socket.end(opts.reply())
    opts.onAnswer?.()
  })
  server.on('error', () => {})
  try {
    server.listen(opts.port, opts.addr)
    await once(server, 'listening')
  } catch (e) {
    throw tcError(
      'TC_ERR_AGENT_LISTEN',
      formatHostPort({ host: opts.addr, port: opts.port }),
      (e as Error).message,
      e,
    )
  }
  const a = server.address()
  const address =
    a && typeof a === 'object'
      ? { host: a.address, port: a.port }
      : { host: opts.addr, port: opts.port }
  return {
    address,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
