// The relay on `net.Socket`: public API only, the fallback when Node's TCP
// handles are not as relay-handles.ts expects (or `TM_PROXY_RELAY=streams`).
// Per connection no closures (shared handlers find the Conn on the socket),
// every listener added once and never removed, 'drain' listeners only when
// a socket fills, byte counts read once at close.

import { connect, type Server, type Socket } from 'node:net'
import type { Slot } from './balancer.js'
import { Conn, EARLY_MAX, State, type RelayEngine } from './relay.js'

const CONN = Symbol('conn')
type Tagged = Socket & { [CONN]: Conn<Socket> }

const noop = (): void => {}

/** Conn.flags: 'drain' listener added on the client / on the node socket. */
const DRAIN_CLIENT = 1
const DRAIN_UP = 2

/**
 * `to` is full: stop reading `from` until it drains. The 'drain' listener
 * is added on first need: most connections never fill a socket.
 */
function backpressure(
  c: Conn<Socket>,
  from: Socket,
  to: Socket,
  onDrain: (this: Tagged) => void,
): void {
  from.pause()
  const bit = to === c.client ? DRAIN_CLIENT : DRAIN_UP
  if ((c.flags & bit) === 0) {
    c.flags |= bit
    to.on('drain', onDrain)
  }
}
function onClientData(this: Tagged, d: Buffer): void {
  const c = this[CONN]
  if (c.state === State.Relay) {
    c.busy = true
    if (!(c.up as Socket).write(d))
      backpressure(c, this, c.up as Socket, onUpDrain)
    return
  }
  ;(c.chunks ??= []).push(d)
  c.bytes += d.length
  if (c.bytes >= EARLY_MAX) this.pause()
}
function onClientDrain(this: Tagged): void {
  const c = this[CONN]
  c.busy = true
  c.up?.resume()
}
// Half-close: a FIN from one side becomes a FIN to the other. When the
// other socket has already read its peer's FIN and flushed what we gave
// it, close it instead: close() sends the FIN after the queued bytes, and
// skips a shutdown request, its event-loop turn and two epoll changes.
// end() on an ended socket builds an error object (with a stack): skip it.
/** @internal Exported for its test (bytes still queued must not be lost). */
export function relayFin(to: Socket): void {
  if (to.writableEnded || to.destroyed) return
  if (to.readableEnded && to.writableLength === 0) to.destroy()
  else to.end()
}
function onClientEnd(this: Tagged): void {
  const c = this[CONN]
  if (c.state !== State.Relay) c.ended = true
  else relayFin(c.up as Socket)
}
function onClientClose(this: Tagged, hadError: boolean): void {
  const c = this[CONN]
  if (c.state === State.Relay) {
    const up = c.up as Socket
    if (hadError) up.destroy()
    else if (!up.writableEnded) up.end()
  }
  c.owner.clientClosed(c, hadError)
}
function onUpData(this: Tagged, d: Buffer): void {
  const c = this[CONN]
  c.busy = true
  if (!c.client.write(d)) backpressure(c, this, c.client, onClientDrain)
}
function onUpDrain(this: Tagged): void {
  const c = this[CONN]
  c.busy = true
  c.client.resume()
}
function onUpEnd(this: Tagged): void {
  relayFin(this[CONN].client)
}
function onUpError(this: Tagged, e: NodeJS.ErrnoException): void {
  const c = this[CONN]
  // After the connect, errors show as 'close' with hadError.
  if (c.state === State.Connecting && c.up === this)
    c.owner.upFailed(c, e.code ?? e.message)
}
function onUpConnect(this: Tagged): void {
  const c = this[CONN]
  if (c.up !== this || !c.owner.upConnected(c)) return
  if (c.chunks) {
    for (const d of c.chunks) this.write(d)
    c.chunks = undefined
  }
  if (c.ended) this.end()
  this.on('data', onUpData)
  this.on('end', onUpEnd)
  this.on('close', onUpClose)
  if (c.bytes >= EARLY_MAX) c.client.resume()
}
function onUpClose(this: Tagged, hadError: boolean): void {
  const c = this[CONN]
  if (hadError) c.client.destroy()
  c.owner.upClosed(c, c.client.bytesRead, c.client.bytesWritten)
}

export const streamRelay: RelayEngine<Socket> = {
  name: 'streams',
  attach(server: Server, accept: (client: Socket) => void): void {
    server.on('connection', accept)
  },
  peerAddress(client: Socket): string {
    return client.remoteAddress ?? ''
  },
  start(c: Conn<Socket>): void {
    const client = c.client as Tagged
    client[CONN] = c
    client.on('error', noop)
    client.on('close', onClientClose)
    // Read the request while the node connection is being set up (one
    // event-loop turn less than pausing); early bytes are bounded.
    client.on('data', onClientData)
    client.on('end', onClientEnd)
  },
  connect(c: Conn<Socket>, slot: Slot): void {
    const up = connect({
      host: slot.host,
      port: slot.port,
      allowHalfOpen: true,
      noDelay: true,
    }) as Tagged
    up[CONN] = c
    c.up = up
    up.on('error', onUpError)
    up.on('connect', onUpConnect)
  },
  dropUp(c: Conn<Socket>): void {
    c.up?.destroy()
    c.up = undefined
  },
  destroy(c: Conn<Socket>): void {
    c.client.destroy()
    c.up?.destroy()
  },
  clientGone(c: Conn<Socket>): boolean {
    return c.client.destroyed
  },
}
