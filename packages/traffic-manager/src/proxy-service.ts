// One virtual service of the userspace proxy inside one process: accept,
// pick a node, connect with a timeout (another node on failure, so a dead
// node costs the client nothing), then relay both ways with backpressure
// and half-close. This is the hot path (issue 20): per connection one
// state object and no closures (shared handlers find it on the socket),
// every listener added once and never removed, no timer of its own (one
// connect-timeout queue and one idle sweep per service), no per-chunk
// allocation of our own, byte counts read once at close.

import { createServer, connect, type Server, type Socket } from 'node:net'
// Subpaths, not the kit's index: proxy workers load this file, and the
// index brings prom-client, commander and more (issue 18.12).
import { systemClock, type Clock, type Timer } from '@has/daemon-kit/clock'
import type { Logger } from '@has/daemon-kit/logger'
import type { Backend, BackendCounters } from './data-plane.js'
import { Balancer, type PersistEntry, type Slot } from './balancer.js'
import type { SchedulerName } from './schedulers.js'
import { tmError } from './errors.js'
import { listenOnFd } from './inherited-listener.js'

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
  /** A listening socket inherited from the service manager (socket-activation.ts): used instead of binding. */
  readonly fd?: number
}

export interface ProxyServiceOptions {
  /** An affinity entry was made or moved (the cluster primary keeps the table). */
  readonly onPersist?: (e: PersistEntry) => void
  readonly clock?: Clock
}

/** Connections held at once while the service has no backend (the rest are refused). */
export const HOLD_MAX = 4096

function balancerSettings(spec: ProxySpec) {
  return {
    scheduler: spec.scheduler,
    persistentMs: spec.persistentMs,
    ...(spec.persistMax !== undefined ? { persistMax: spec.persistMax } : {}),
    granularity: {
      v4Prefix: spec.persistV4Prefix ?? 32,
      v6Prefix: spec.persistV6Prefix ?? 128,
    },
  }
}

const noop = (): void => {}

/** Bytes read from a client before its node connection is up. */
const EARLY_MAX = 64 * 1024

/**
 * Idle sweeps per idle-timeout: a connection quiet for this many whole
 * sweeps is closed, so after between idle-timeout and 1.25 x idle-timeout.
 */
export const IDLE_SWEEPS = 4

const enum State {
  /** Accepted, reading early bytes, no node yet (or between attempts). */
  Early,
  /** Waiting for the service's first backend. */
  Held,
  /** Connecting to a node. */
  Connecting,
  /** Relaying; `up` and `slot` are final. */
  Relay,
  Closed,
}

/** One client connection: what the shared handlers need, in one object. */
class Conn {
  state = State.Early
  up: Socket | undefined = undefined
  slot: Slot | undefined = undefined
  /** Early bytes (allocated on the first one) and whether the client sent FIN. */
  chunks: Buffer[] | undefined = undefined
  bytes = 0
  ended = false
  exclude: Set<string> | undefined = undefined
  /** Clock ms after which a connection with no backend is closed (set when first held). */
  holdUntil = 0
  holdTimer: Timer | undefined = undefined
  /** Connect deadline (clock ms) of the attempt in progress. */
  deadline = 0
  /** Bytes moved since the last idle sweep; whole sweeps without any. */
  busy = true
  quiet = 0
  /** 'drain' listener added: 1 on the client, 2 on the node socket. */
  drainHooked = 0
  constructor(
    readonly svc: ProxyService,
    readonly client: Socket,
    readonly ip: string,
  ) {}
}

const CONN = Symbol('conn')
type Tagged = Socket & { [CONN]: Conn }

// Shared relay handlers, bound through `this` (the socket that emitted).

/**
 * `to` is full: stop reading `from` until it drains. The 'drain' listener
 * is added on first need: most connections never fill a socket.
 */
function backpressure(
  c: Conn,
  from: Socket,
  to: Socket,
  onDrain: (this: Tagged) => void,
): void {
  from.pause()
  const bit = to === c.client ? 1 : 2
  if ((c.drainHooked & bit) === 0) {
    c.drainHooked |= bit
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

export class ProxyService {
  #spec: ProxySpec
  readonly balancer: Balancer
  readonly #server: Server
  readonly #log: Logger
  readonly #open = new Set<Conn>()
  readonly #held = new Set<Conn>()
  /** Connect attempts in progress, oldest first, under one timer. */
  readonly #connecting = new Set<Conn>()
  #connectTimer: Timer | undefined
  /** The deadline #connectTimer is armed for. */
  #connectAt = 0
  #idleTimer: Timer | undefined
  /** Deadlines and timers; affinity expiry stays on the wall clock (balancer.ts). */
  readonly #clock: Clock
  #closing = false
  #idleWaiters: (() => void)[] = []
  /** Connections closed without a node: none eligible within connect-timeout, or too many held. */
  refused = 0
  /** Connections that had to wait for a first backend (then served or refused). */
  heldTotal = 0

  constructor(spec: ProxySpec, logger: Logger, opts: ProxyServiceOptions = {}) {
    const { onPersist } = opts
    this.#spec = spec
    this.#log = logger
    this.#clock = opts.clock ?? systemClock
    this.balancer = new Balancer({
      ...balancerSettings(spec),
      ...(onPersist ? { onPersist } : {}),
    })
    this.#server = createServer(
      { allowHalfOpen: true, noDelay: true },
      client => this.#accept(client),
    )
    this.#server.on('error', err =>
      this.#log.error({ err, service: spec.name }, 'listener error'),
    )
    this.#armIdle()
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
    if (
      spec.address !== this.#spec.address ||
      ![0, this.#spec.port, this.port].includes(spec.port)
    ) {
      throw tmError(
        'TM_ERR_LISTEN',
        spec.name,
        'reconfigure cannot move a listener',
      )
    }
    const idleChanged = spec.idleTimeoutMs !== this.#spec.idleTimeoutMs
    this.#spec = { ...spec, port: this.#spec.port }
    this.balancer.reconfigure(balancerSettings(spec))
    if (idleChanged) this.#armIdle()
  }

  listen(): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void =>
        reject(tmError('TM_ERR_LISTEN', this.spec.name, e.message, e))
      this.#server.once('error', onError)
      const ready = (): void => {
        this.#server.off('error', onError)
        const a = this.#server.address()
        resolve(
          a && typeof a === 'object' ? `${a.address}:${a.port}` : String(a),
        )
      }
      if (this.spec.fd !== undefined) {
        try {
          listenOnFd(this.#server, this.spec.fd, 1024, ready)
        } catch (e) {
          onError(e as Error)
        }
        return
      }
      this.#server.listen(
        { host: this.spec.address, port: this.spec.port, backlog: 1024 },
        () => {
          ready()
        },
      )
    })
  }

  /** Bound port (tests listen on port 0). */
  get port(): number {
    const a = this.#server.address()
    return a && typeof a === 'object' ? a.port : 0
  }

  update(backends: readonly Backend[]): void {
    this.balancer.update(backends)
    // A node that left (silent, down, removed) cannot answer the connects
    // still waiting on it: try another node now, not at connect-timeout.
    // A drained node (weight 0) is still in the set and may answer.
    if (this.#connecting.size > 0) {
      const live = new Set(backends.map(b => b.id))
      for (const c of [...this.#connecting])
        if (c.slot && !live.has(c.slot.id)) this.#fail(c, 'node left')
    }
    if (this.#held.size > 0 && backends.some(b => b.weight > 0)) {
      const waiting = [...this.#held]
      for (const c of waiting) {
        this.#unhold(c)
        this.#attempt(c)
      }
    }
  }

  get heldNow(): number {
    return this.#held.size
  }

  // No eligible node (right after a restart, before the first reports, or
  // every node failed): hold the connection, its early bytes buffered, until
  // a backend appears, for at most connect-timeout; then close it. Clients
  // wait a moment instead of being reset. Bounded by HOLD_MAX. Rare, so a
  // timer each.
  #hold(c: Conn): void {
    const now = this.#clock.now()
    if (c.holdUntil === 0) {
      c.holdUntil = now + this.#spec.connectTimeoutMs
      this.heldTotal++
    }
    if (this.#closing || this.#held.size >= HOLD_MAX || c.holdUntil <= now) {
      this.refused++
      c.client.destroy()
      return
    }
    c.state = State.Held
    c.holdTimer = this.#clock.after(c.holdUntil - now, () => {
      this.#unhold(c)
      this.refused++
      this.#log.debug(
        { service: this.#spec.name },
        'no backend within connect-timeout; closing the held connection',
      )
      c.client.destroy()
    })
    this.#held.add(c)
  }

  #unhold(c: Conn): void {
    c.holdTimer?.cancel()
    c.holdTimer = undefined
    c.state = State.Early
    this.#held.delete(c)
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
    // getpeername costs a syscall: only persistence needs the client IP.
    const c = new Conn(
      this,
      client,
      this.#spec.persistentMs > 0 ? (client.remoteAddress ?? '') : '',
    )
    ;(client as Tagged)[CONN] = c
    this.#open.add(c)
    client.on('error', noop)
    client.on('close', ProxyService.#onClientClose)
    // Read the request while the node connection is being set up (one
    // event-loop turn less than pausing); early bytes are bounded.
    client.on('data', onClientData)
    client.on('end', onClientEnd)
    this.#attempt(c)
  }

  static #onClientClose(this: Tagged, hadError: boolean): void {
    const c = this[CONN]
    const svc = c.svc
    const state = c.state
    c.state = State.Closed
    svc.#open.delete(c)
    if (state === State.Relay) {
      const up = c.up as Socket
      if (hadError) up.destroy()
      else if (!up.writableEnded) up.end()
    } else if (state === State.Connecting) {
      svc.#connecting.delete(c)
      c.up?.destroy()
      svc.balancer.abandon(c.slot as Slot)
    } else if (state === State.Held) {
      svc.#unhold(c)
      c.state = State.Closed
    }
    if (svc.#closing && svc.#open.size === 0) svc.#wake()
  }

  #attempt(c: Conn): void {
    const slot = this.balancer.acquire(c.ip, c.exclude)
    if (!slot) {
      this.#hold(c)
      return
    }
    const up = connect({
      host: slot.host,
      port: slot.port,
      allowHalfOpen: true,
      noDelay: true,
    })
    ;(up as Tagged)[CONN] = c
    c.state = State.Connecting
    c.up = up
    c.slot = slot
    const now = this.#clock.now()
    c.deadline = now + this.#spec.connectTimeoutMs
    this.#connecting.add(c)
    if (this.#connectTimer === undefined || c.deadline < this.#connectAt)
      this.#armConnect(c.deadline, now)
    up.on('error', ProxyService.#onUpError)
    up.on('connect', ProxyService.#onUpConnect)
  }

  // Connect timeouts: one timer for the service, armed for the earliest
  // deadline; attempts that connected are gone from the queue by then, so
  // it wakes about once per connect-timeout, not once per connection.
  #armConnect(deadline: number, now: number): void {
    this.#disarmConnect()
    this.#connectAt = deadline
    this.#connectTimer = this.#clock.after(
      Math.max(1, deadline - now),
      () => this.#sweepConnect(),
      { background: true },
    )
  }

  #sweepConnect(): void {
    this.#connectTimer = undefined
    const now = this.#clock.now()
    // A reload may change connect-timeout, so the queue is not strictly in
    // deadline order: check every entry. A failed attempt re-queues with a
    // new deadline (not in this snapshot).
    for (const c of [...this.#connecting])
      if (c.deadline <= now) this.#fail(c, 'timeout')
    let next = Infinity
    for (const c of this.#connecting) if (c.deadline < next) next = c.deadline
    if (next !== Infinity) this.#armConnect(next, now)
    else this.#disarmConnect()
  }

  #disarmConnect(): void {
    this.#connectTimer?.cancel()
    this.#connectTimer = undefined
  }

  static #onUpError(this: Tagged, e: NodeJS.ErrnoException): void {
    const c = this[CONN]
    // After the connect, errors show as 'close' with hadError.
    if (c.state === State.Connecting && c.up === this)
      c.svc.#fail(c, e.code ?? e.message)
  }

  #fail(c: Conn, reason: string): void {
    const slot = c.slot as Slot
    this.#connecting.delete(c)
    c.state = State.Early
    c.up?.destroy()
    c.up = undefined
    c.slot = undefined
    this.balancer.abandon(slot)
    if (c.client.destroyed) return
    this.#log.debug(
      { service: this.#spec.name, node: slot.id, reason },
      'connect failed; trying another node',
    )
    ;(c.exclude ??= new Set<string>()).add(slot.id)
    this.#attempt(c)
  }

  static #onUpConnect(this: Tagged): void {
    const c = this[CONN]
    if (c.state !== State.Connecting || c.up !== this) return
    c.svc.#connecting.delete(c)
    c.state = State.Relay
    const client = c.client
    if (c.chunks) {
      for (const d of c.chunks) this.write(d)
      c.chunks = undefined
    }
    if (c.ended) this.end()
    this.on('data', onUpData)
    this.on('end', onUpEnd)
    this.on('close', ProxyService.#onUpClose)
    if (c.bytes >= EARLY_MAX) client.resume()
  }

  static #onUpClose(this: Tagged, hadError: boolean): void {
    const c = this[CONN]
    if (hadError) c.client.destroy()
    c.svc.balancer.release(
      c.slot as Slot,
      c.client.bytesRead,
      c.client.bytesWritten,
    )
  }

  // Idle timeout: one sweep every idle-timeout / IDLE_SWEEPS over the
  // relayed connections instead of a timer per connection refreshed on
  // every chunk; the handlers only set a flag.
  #armIdle(): void {
    this.#idleTimer?.cancel()
    this.#idleTimer = undefined
    const ms = this.#spec.idleTimeoutMs
    if (ms <= 0) return
    this.#idleTimer = this.#clock.every(
      Math.max(1, Math.floor(ms / IDLE_SWEEPS)),
      () => this.#sweepIdle(),
      { background: true },
    )
  }

  #sweepIdle(): void {
    for (const c of this.#open) {
      if (c.state !== State.Relay) continue
      if (c.busy) {
        c.busy = false
        c.quiet = 0
      } else if (++c.quiet >= IDLE_SWEEPS) {
        c.client.destroy()
        c.up?.destroy()
      }
    }
  }

  /** Stops accepting; resolves once every open connection has ended. */
  async close(): Promise<void> {
    this.#closing = true
    // Held connections have no node to wait for once the service goes.
    for (const c of [...this.#held]) {
      this.#unhold(c)
      this.refused++
      c.client.destroy()
    }
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
    if (this.#open.size > 0)
      await new Promise<void>(r => this.#idleWaiters.push(r))
    this.#idleTimer?.cancel()
    this.#idleTimer = undefined
  }

  /** Cuts every open connection (after the shutdown deadline). */
  destroyAll(): void {
    for (const c of this.#open) c.client.destroy()
  }

  #wake(): void {
    const w = this.#idleWaiters
    this.#idleWaiters = []
    for (const r of w) r()
  }
}
