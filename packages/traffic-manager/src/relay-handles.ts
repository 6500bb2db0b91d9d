// The relay on libuv's TCP handles (uv-binding.ts), without `net.Socket`:
// the default engine. Per connection two handles and one Conn; no
// closures, streams or event emitters. libuv reads each chunk into the
// end's own buffer (READ_BUFFER bytes, HAProxy's bufsize, from a pool: no
// allocation per read or per connection) and the chunk is written to the
// other handle at once. A write libuv cannot finish at once stops reading
// the side that fed it until it completes (one write in flight per
// direction): that is the whole of backpressure. A FIN read on one side
// becomes a FIN on the other once its bytes are out; a handle that has
// read its FIN and sent ours is closed. The profile this replaces (two
// Duplex streams per connection) is in docs/bench/proxy.md (issue 20).

import type { Server } from 'node:net'
import { getSystemErrorName } from 'node:util'
import type { Slot } from './balancer.js'
import { Conn, EARLY_MAX, State, type RelayEngine } from './relay.js'
import type {
  ConnectReq,
  ShutdownReq,
  TcpHandle,
  UvBinding,
  WriteReq,
} from './uv-binding.js'

const CONN = Symbol('conn')

// Conn.flags: per end, FIN read (EOF), FIN sent (or shutdown asked), closed.
const C_EOF = 1
const C_FIN = 2
const C_CLOSED = 4
const U_EOF = 8
const U_FIN = 16
const U_CLOSED = 32
/** Client reading stopped because the early bytes reached EARLY_MAX. */
const EARLY_STOP = 64

type HConn = Conn<TcpHandle>

const connOf = (o: { [key: symbol]: unknown }): HConn => o[CONN] as HConn

const noopRead = (): void => {}

/** Bytes per read, per end (HAProxy's default tune.bufsize). */
export const READ_BUFFER = 16 * 1024
/** Idle read buffers kept for new connections (the rest go to the GC). */
const POOL_MAX = 1024

function errName(status: number): string {
  try {
    return getSystemErrorName(status)
  } catch {
    return `error ${status}`
  }
}

/** The handle engine over one binding (tests may build one per binding). */
export function handleRelay(uv: UvBinding): RelayEngine<TcpHandle> {
  const st = uv.state
  const K_READ = uv.kReadBytesOrError
  const K_ASYNC = uv.kLastWriteWasAsync
  const UV_EOF = uv.UV_EOF
  // A write that completes at once never touches its request object, so
  // one serves every such write; a write that goes asynchronous keeps it,
  // and the next write gets a new one.
  let req: WriteReq = uv.newWriteReq()
  // Read buffers of closed ends. A buffer goes back only when no write
  // from it is in flight (an async write keeps reading from it).
  const pool: Buffer[] = []
  const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER)
  const give = (b: Buffer | undefined): void => {
    if (b && pool.length < POOL_MAX) pool.push(b)
  }

  // The bytes a read put in `b`. A plain Uint8Array: Buffer#subarray
  // goes through the species constructor and costs about three times as
  // much, twice per keep-alive request (writeBuffer takes either).
  const view = (b: Buffer, n: number): Uint8Array =>
    new Uint8Array(b.buffer, b.byteOffset, n)

  /** Writes `buf` to `to`; false when the connection was cut. */
  function write(
    c: HConn,
    to: TcpHandle,
    from: TcpHandle,
    buf: Uint8Array,
    toUp: boolean,
  ): boolean {
    const r = req
    r[CONN] = c
    r.oncomplete = toUp ? onUpWritten : onClientWritten
    if (to.writeBuffer(r, buf) !== 0) {
      r[CONN] = undefined
      kill(c)
      return false
    }
    if (!toUp) c.bytesOut += buf.length
    if (st[K_ASYNC] !== 0) {
      req = uv.newWriteReq()
      if (toUp) c.pendUp++
      else c.pendClient++
      from.readStop()
    } else r[CONN] = undefined
    return true
  }

  function onUpWritten(this: WriteReq, status: number): void {
    const c = connOf(this)
    this[CONN] = undefined
    if (status < 0) return kill(c)
    if (--c.pendUp > 0) return
    c.busy = true
    if (c.flags & C_EOF) finUp(c)
    else if ((c.flags & (C_CLOSED | EARLY_STOP)) === 0) c.client.readStart()
  }

  function onClientWritten(this: WriteReq, status: number): void {
    const c = connOf(this)
    this[CONN] = undefined
    if (status < 0) return kill(c)
    if (--c.pendClient > 0) return
    c.busy = true
    if (c.flags & U_EOF) finClient(c)
    else if ((c.flags & U_CLOSED) === 0) (c.up as TcpHandle).readStart()
  }

  function onClientRead(this: TcpHandle): void {
    const n = st[K_READ] as number
    const c = connOf(this)
    if (n > 0) {
      const buf = view(c.readClient as Buffer, n)
      c.bytesIn += n
      if (c.state === State.Relay) {
        c.busy = true
        write(c, c.up as TcpHandle, this, buf, true)
        return
      }
      // The next read reuses the buffer: early bytes are copied out.
      ;(c.chunks ??= []).push(Buffer.from(buf))
      c.bytes += n
      if (c.bytes >= EARLY_MAX) {
        c.flags |= EARLY_STOP
        this.readStop()
      }
      return
    }
    if (n === 0) return
    if (n !== UV_EOF) return kill(c)
    // libuv stops reading at EOF by itself.
    c.flags |= C_EOF
    if (c.state !== State.Relay) return
    if (c.pendUp === 0) finUp(c)
    if ((c.flags & (C_FIN | C_CLOSED)) === C_FIN) closeClient(c)
  }

  function onUpRead(this: TcpHandle): void {
    const n = st[K_READ] as number
    const c = connOf(this)
    if (n > 0) {
      c.busy = true
      write(c, c.client, this, view(c.readUp as Buffer, n), false)
      return
    }
    if (n === 0) return
    if (n !== UV_EOF) return kill(c)
    c.flags |= U_EOF
    if (c.pendClient === 0) finClient(c)
    if ((c.flags & (U_FIN | U_CLOSED)) === U_FIN) closeUp(c)
  }

  // A FIN to the node: a shutdown, or a close when the node's FIN is
  // already in (close sends ours after the bytes in the kernel, and saves
  // the shutdown request and its loop turn).
  function finUp(c: HConn): void {
    if (c.flags & (U_FIN | U_CLOSED)) return
    c.flags |= U_FIN
    if (c.flags & U_EOF) return closeUp(c)
    const s = uv.newShutdownReq()
    s[CONN] = c
    s.oncomplete = onShutdown
    if ((c.up as TcpHandle).shutdown(s) !== 0) kill(c)
  }

  function finClient(c: HConn): void {
    if (c.flags & (C_FIN | C_CLOSED)) return
    c.flags |= C_FIN
    if (c.flags & C_EOF) return closeClient(c)
    const s = uv.newShutdownReq()
    s[CONN] = c
    s.oncomplete = onShutdown
    if (c.client.shutdown(s) !== 0) kill(c)
  }

  function onShutdown(this: ShutdownReq, status: number): void {
    const c = connOf(this)
    // A handle closed with its shutdown pending reports ECANCELED: not news.
    if (status < 0 && (c.flags & (C_CLOSED | U_CLOSED)) === 0) kill(c)
  }

  // Closing an end: its read buffer goes back to the pool unless a write
  // from it is still in flight to the other end.
  function closeUp(c: HConn): void {
    if (c.flags & U_CLOSED) return
    c.flags |= U_CLOSED
    const up = c.up as TcpHandle
    up.onread = noopRead
    up.close()
    if (c.pendClient === 0) give(c.readUp)
    c.readUp = undefined
    c.owner.upClosed(c, c.bytesIn, c.bytesOut)
  }

  function closeClient(c: HConn, hadError = false): void {
    if (c.flags & C_CLOSED) return
    c.flags |= C_CLOSED
    c.client.onread = noopRead
    c.client.close()
    if (c.pendUp === 0) give(c.readClient)
    c.readClient = undefined
    c.owner.clientClosed(c, hadError)
  }

  /** Cuts both ends (an error, a timeout, or control's destroy). */
  function kill(c: HConn): void {
    // Before the relay, the node end is an attempt: control drops it.
    if (c.state === State.Relay) closeUp(c)
    closeClient(c, true)
  }

  function onConnect(this: ConnectReq, status: number, up: TcpHandle): void {
    const c = connOf(this)
    if (c.up !== up) return
    if (status < 0) return c.owner.upFailed(c, errName(status))
    if (!c.owner.upConnected(c)) return
    const client = c.client
    if (c.chunks) {
      const chunks = c.chunks
      c.chunks = undefined
      for (const d of chunks) if (!write(c, up, client, d, true)) return
    }
    up.readStart()
    if (c.flags & C_EOF) {
      if (c.pendUp === 0) finUp(c)
    } else if (c.flags & EARLY_STOP) {
      c.flags &= ~EARLY_STOP
      if (c.pendUp === 0) client.readStart()
    }
  }

  return {
    name: 'handles',
    attach(server: Server, accept: (client: TcpHandle) => void): void {
      const h = (server as unknown as { _handle: TcpHandle | null })._handle
      if (!h) throw new Error('the proxy listener has no handle')
      h.onconnection = (status, client) => {
        if (status < 0 || !client) {
          server.emit(
            'error',
            Object.assign(new Error(`accept: ${errName(status)}`), {
              code: errName(status),
            }),
          )
          return
        }
        accept(client)
      }
    },
    peerAddress(client: TcpHandle): string {
      const out: { address?: string } = {}
      return client.getpeername(out) === 0 ? (out.address ?? '') : ''
    },
    start(c: HConn): void {
      const client = c.client
      client[CONN] = c
      client.onread = onClientRead
      client.useUserBuffer((c.readClient = take()))
      client.setNoDelay(true)
      // Read the request while the node connection is being set up.
      if (client.readStart() !== 0) kill(c)
    },
    connect(c: HConn, slot: Slot): void {
      const up = uv.newSocket()
      up[CONN] = c
      up.onread = onUpRead
      up.useUserBuffer((c.readUp = take()))
      up.setNoDelay(true)
      c.up = up
      const r = uv.newConnectReq()
      r[CONN] = c
      r.oncomplete = onConnect
      r.address = slot.host
      r.port = slot.port
      // Node addresses are IP literals (config.ts checks): a colon is v6,
      // and cheaper than net.isIPv6's regular expression per connection.
      const err = slot.host.includes(':')
        ? up.connect6(r, slot.host, slot.port)
        : up.connect(r, slot.host, slot.port)
      // As net reports it: after this call returns, never inside it.
      if (err !== 0)
        process.nextTick(() => {
          if (c.up === up) c.owner.upFailed(c, errName(err))
        })
    },
    dropUp(c: HConn): void {
      const up = c.up
      c.up = undefined
      if (up) {
        up.onread = noopRead
        up.close()
        give(c.readUp)
        c.readUp = undefined
      }
    },
    destroy(c: HConn): void {
      kill(c)
    },
    clientGone(c: HConn): boolean {
      return (c.flags & C_CLOSED) !== 0
    },
  }
}
