// Serves membership events over TCP: a snapshot on connect, then changes.
// Slow clients are cut off rather than buffered without bound.

import { createServer, type Server, type Socket } from 'node:net'
import {
  LineSplitter,
  kitError,
  type HostPort,
  type Logger,
} from '@has/daemon-kit'
import {
  EVENT_MAX_LINE,
  formatServerLine,
  parseClientLine,
  type ServerLine,
} from './event-protocol.js'

/** Bytes queued for one client before it is disconnected. */
export const EVENT_MAX_BACKLOG = 1024 * 1024

export interface EventServer {
  readonly address: { host: string; port: number }
  readonly clients: number
  broadcast(lines: readonly ServerLine[]): void
  close(): Promise<void>
}

export async function startEventServer(opts: {
  listen: HostPort
  snapshot: () => ServerLine[]
  logger: Logger
}): Promise<EventServer> {
  const sockets = new Set<Socket>()
  const send = (s: Socket, lines: readonly ServerLine[]): void => {
    if (s.destroyed) return
    if (s.writableLength > EVENT_MAX_BACKLOG) {
      opts.logger.warn(
        { remote: s.remoteAddress },
        'event client too slow; disconnecting',
      )
      s.destroy()
      return
    }
    s.write(lines.map(formatServerLine).join(''))
  }
  const server: Server = createServer(s => {
    sockets.add(s)
    s.setNoDelay(true)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
    const splitter = new LineSplitter(
      EVENT_MAX_LINE,
      line => {
        const m = parseClientLine(line)
        send(s, [
          m.type === 'ping'
            ? { type: 'pong' }
            : { type: 'err', code: m.code, text: m.text },
        ])
      },
      () => {
        send(s, [
          {
            type: 'err',
            code: 'HB_ERR_EVENT_TOO_LONG',
            text: `line longer than ${EVENT_MAX_LINE} bytes`,
          },
        ])
        s.end()
      },
    )
    s.on('data', c => splitter.push(c))
    send(s, [...opts.snapshot(), { type: 'sync' }])
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', e =>
      reject(
        kitError(
          'KIT_ERR_LISTEN',
          `${opts.listen.host}:${opts.listen.port}`,
          e.message,
          e,
        ),
      ),
    )
    server.listen(opts.listen.port, opts.listen.host, resolve)
  })
  const a = server.address() as { address: string; port: number }
  return {
    address: { host: a.address, port: a.port },
    get clients() {
      return sockets.size
    },
    broadcast(lines) {
      if (lines.length) for (const s of sockets) send(s, lines)
    },
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
