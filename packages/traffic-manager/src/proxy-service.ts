// One virtual service of the userspace proxy inside one process: accept,
// pick a node, connect with a timeout (another node on failure, so a dead
// node costs the client nothing), then relay both ways with backpressure
// and half-close. This is the hot path: no per-chunk allocation of our
// own, one idle timer per connection (on the client socket, which sees
// traffic in both directions), byte counts read once at close.

import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Logger } from '@has/daemon-kit'
import type { Backend, BackendCounters } from './data-plane.js'
import { Balancer, type PersistEntry, type Slot } from './balancer.js'
import type { SchedulerName } from './schedulers.js'
import { tmError } from './errors.js'

export interface ProxySpec {
  readonly name: string
  readonly address: string
  readonly port: number
  readonly scheduler: SchedulerName
  readonly persistentMs: number
  readonly connectTimeoutMs: number
  readonly idleTimeoutMs: number
  /** Affinity table cap (default PERSIST_MAX_DEFAULT). */
  readonly persistMax?: number
  /** Affinity granularity: IPv4 / IPv6 prefix lengths (default 32 / 128). */
  readonly persistV4Prefix?: number
  readonly persistV6Prefix?: number
}

/** Connections held at once while the service has no backend (the rest are refused). */
export const HOLD_MAX = 4096

function balancerSettings(spec: ProxySpec) {
  return {
    scheduler: spec.scheduler,
    persistentMs: spec.persistentMs,
    ...(spec.persistMax !== undefined ? { persistMax: spec.persistMax } : {}),
    granularity: { v4Prefix: spec.persistV4Prefix ?? 32, v6Prefix: spec.persistV6Prefix ?? 128 },
  }
}

const noop = (): void => {}

/** Bytes read from a client before its node connection is up. */
const EARLY_MAX = 64 * 1024
interface Early {
  chunks: Buffer[]
  bytes: number
  ended: boolean
  onData: (d: Buffer) => void
  onEnd: () => void
  /** Clock ms after which a connection with no backend is closed (set when first held). */
  holdUntil?: number
}

/** A connection waiting for the service's first backend. */
interface Held {
  client: Socket
  ip: string
  exclude: Set<string> | undefined
  early: Early
  timer: NodeJS.Timeout
  onClose: () => void
}

const PEER = Symbol('peer')
type Piped = Socket & { [PEER]: Socket }

function onData(this: Piped, d: Buffer): void {
  if (!this[PEER].write(d)) this.pause()
}
function onDrain(this: Piped): void {
  this[PEER].resume()
}
// Half-close: a FIN from one side becomes a FIN to the other; the sockets
// close by themselves once both directions have ended.
// end() on an ended socket builds an error object (with a stack): skip it.
function onEnd(this: Piped): void {
  const peer = this[PEER]
  if (!peer.writableEnded) peer.end()
}
function onClientClose(this: Piped, hadError: boolean): void {
  const peer = this[PEER]
  if (hadError) peer.destroy()
  else if (!peer.writableEnded) peer.end()
}
function onIdle(this: Piped): void {
  this.destroy()
  this[PEER].destroy()
}

export class ProxyService {
  #spec: ProxySpec
  readonly balancer: Balancer
  readonly #server: Server
  readonly #log: Logger
  readonly #open = new Set<Socket>()
  readonly #held = new Set<Held>()
  #closing = false
  #idleWaiters: (() => void)[] = []
  /** Connections closed without a node: none eligible within connect-timeout, or too many held. */
  refused = 0
  /** Connections that had to wait for a first backend (then served or refused). */
  heldTotal = 0

  constructor(spec: ProxySpec, logger: Logger, onPersist?: (e: PersistEntry) => void) {
    this.#spec = spec
    this.#log = logger
    this.balancer = new Balancer({
      ...balancerSettings(spec),
      ...(onPersist ? { onPersist } : {}),
    })
    this.#server = createServer(
      { allowHalfOpen: true, noDelay: true },
      client => this.#accept(client),
    )
    this.#server.on('error', err => this.#log.error({ err, service: spec.name }, 'listener error'))
  }

  get spec(): ProxySpec {
    return this.#spec
  }

  /**
   * Applies changed settings (scheduler, persistence, timeouts) without
   * touching the listener: open and new connections carry on. The address
   * must not change (that is another listener).
   */
  reconfigure(spec: ProxySpec): void {
    // Port 0 in the config: the spec may carry 0 or the port bound for it.
    if (spec.address !== this.#spec.address || ![0, this.#spec.port, this.port].includes(spec.port)) {
      throw tmError('TM_ERR_LISTEN', spec.name, 'reconfigure cannot move a listener')
    }
    this.#spec = { ...spec, port: this.#spec.port }
    this.balancer.reconfigure(balancerSettings(spec))
  }

  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void =>
        reject(tmError('TM_ERR_LISTEN', this.spec.name, e.message, e))
      this.#server.once('error', onError)
      this.#server.listen({ host: this.spec.address, port: this.spec.port, backlog: 1024 }, () => {
        this.#server.off('error', onError)
        const a = this.#server.address()
        resolve(a && typeof a === 'object' ? `${a.address}:${a.port}` : String(a))
      })
    })
  }

  /** Bound port (tests listen on port 0). */
  get port(): number {
    const a = this.#server.address()
    return a && typeof a === 'object' ? a.port : 0
  }

  update(backends: readonly Backend[]): void {
    this.balancer.update(backends)
    if (this.#held.size > 0 && backends.some(b => b.weight > 0)) {
      const waiting = [...this.#held]
      for (const h of waiting) {
        this.#unhold(h)
        this.#attempt(h.client, h.ip, h.exclude, h.early)
      }
    }
  }

  get heldNow(): number {
    return this.#held.size
  }

  // No eligible node (right after a restart, before the first reports, or
  // every node failed): hold the connection, its early bytes buffered, until
  // a backend appears, for at most connect-timeout; then close it. Clients
  // wait a moment instead of being reset. Bounded by HOLD_MAX.
  #hold(client: Socket, ip: string, exclude: Set<string> | undefined, early: Early): void {
    const now = Date.now()
    if (early.holdUntil === undefined) {
      early.holdUntil = now + this.#spec.connectTimeoutMs
      this.heldTotal++
    }
    if (this.#closing || this.#held.size >= HOLD_MAX || early.holdUntil <= now) {
      this.refused++
      client.destroy()
      return
    }
    const h: Held = {
      client,
      ip,
      exclude,
      early,
      timer: setTimeout(() => {
        this.#unhold(h)
        this.refused++
        this.#log.debug({ service: this.#spec.name }, 'no backend within connect-timeout; closing the held connection')
        client.destroy()
      }, early.holdUntil - now),
      onClose: () => this.#unhold(h),
    }
    client.once('close', h.onClose)
    this.#held.add(h)
  }

  #unhold(h: Held): void {
    clearTimeout(h.timer)
    h.client.off('close', h.onClose)
    this.#held.delete(h)
  }

  counters(): Map<string, BackendCounters> {
    return this.balancer.counters()
  }

  get openConnections(): number {
    return this.#open.size
  }

  #accept(client: Socket): void {
    if (this.#closing) {
      client.destroy()
      return
    }
    this.#open.add(client)
    client.on('error', noop)
    client.once('close', () => {
      this.#open.delete(client)
      if (this.#closing && this.#open.size === 0) this.#wake()
    })
    // Read the request while the node connection is being set up (one
    // event-loop turn less than pausing); held bytes are bounded.
    const early: Early = { chunks: [], bytes: 0, ended: false, onData: noop, onEnd: noop }
    early.onData = (d: Buffer): void => {
      early.chunks.push(d)
      early.bytes += d.length
      if (early.bytes >= EARLY_MAX) client.pause()
    }
    early.onEnd = (): void => {
      early.ended = true
    }
    client.on('data', early.onData)
    client.on('end', early.onEnd)
    // getpeername costs a syscall: only persistence needs the client IP.
    const ip = this.#spec.persistentMs > 0 ? (client.remoteAddress ?? '') : ''
    this.#attempt(client, ip, undefined, early)
  }

  #attempt(client: Socket, ip: string, exclude: Set<string> | undefined, early: Early): void {
    const slot = this.balancer.acquire(ip, exclude)
    if (!slot) {
      this.#hold(client, ip, exclude, early)
      return
    }
    const up = connect({ host: slot.host, port: slot.port, allowHalfOpen: true, noDelay: true })
    let settled = false
    const fail = (reason: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      client.off('close', onEarlyClose)
      up.destroy()
      this.balancer.abandon(slot)
      if (client.destroyed) return
      this.#log.debug({ service: this.#spec.name, node: slot.id, reason }, 'connect failed; trying another node')
      const ex = exclude ?? new Set<string>()
      ex.add(slot.id)
      this.#attempt(client, ip, ex, early)
    }
    const timer = setTimeout(fail, this.#spec.connectTimeoutMs, 'timeout')
    const onConnectError = (e: NodeJS.ErrnoException): void => fail(e.code ?? e.message)
    up.once('error', onConnectError)
    const onEarlyClose = (): void => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        up.destroy()
        this.balancer.abandon(slot)
      }
    }
    client.once('close', onEarlyClose)
    up.once('connect', () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      client.off('close', onEarlyClose)
      up.off('error', onConnectError)
      this.#relay(client, up, slot, early)
    })
  }

  #relay(client: Socket, up: Socket, slot: Slot, early: Early): void {
    up.on('error', noop)
    client.off('data', early.onData)
    client.off('end', early.onEnd)
    for (const c of early.chunks) up.write(c)
    early.chunks.length = 0
    if (early.ended) up.end()
    ;(client as Piped)[PEER] = up
    ;(up as Piped)[PEER] = client
    // Shared handlers bound through `this` keep per-connection allocation
    // to the one closure that must know the slot.
    client.on('data', onData)
    up.on('data', onData)
    client.on('drain', onDrain)
    up.on('drain', onDrain)
    client.on('end', onEnd)
    up.on('end', onEnd)
    client.on('close', onClientClose)
    up.on('close', hadError => {
      if (hadError) client.destroy()
      this.balancer.release(slot, client.bytesRead, client.bytesWritten)
    })
    if (this.#spec.idleTimeoutMs > 0) client.setTimeout(this.#spec.idleTimeoutMs, onIdle)
    client.resume()
  }

  /** Stops accepting; resolves once every open connection has ended. */
  async close(): Promise<void> {
    this.#closing = true
    // Held connections have no node to wait for once the service goes.
    for (const h of [...this.#held]) {
      this.#unhold(h)
      this.refused++
      h.client.destroy()
    }
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
    if (this.#open.size > 0) await new Promise<void>(r => this.#idleWaiters.push(r))
  }

  /** Cuts every open connection (after the shutdown deadline). */
  destroyAll(): void {
    for (const s of this.#open) s.destroy()
  }

  #wake(): void {
    const w = this.#idleWaiters
    this.#idleWaiters = []
    for (const r of w) r()
  }
}
