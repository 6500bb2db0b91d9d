// One virtual service of the userspace proxy inside one process: accept,
// pick a node, connect with a timeout (another node on failure, so a dead
// node costs the client nothing), then relay both ways with backpressure
// and half-close. This file is the control: nodes, held connections,
// connect and idle timeouts, close. The bytes move in a relay engine
// (relay.ts): on libuv's TCP handles by default, on `net.Socket` as the
// fallback. No timer per connection: one connect-timeout queue and one
// idle sweep per service (issue 20).

import { createServer, type Server } from 'node:net'
// Subpaths, not the kit's index: proxy workers load this file, and the
// index brings prom-client, commander and more (issue 18.12).
import { systemClock, type Clock, type Timer } from '@has/daemon-kit/clock'
import type { Logger } from '@has/daemon-kit/logger'
import { createDropLog, type DropLog } from '@has/daemon-kit/drop-log'
import type { Backend, BackendCounters } from './data-plane.js'
import { Balancer, type PersistEntry, type Slot } from './balancer.js'
import type { SchedulerName } from './schedulers.js'
import { tmError } from './errors.js'
import { listenOnFd } from './inherited-listener.js'
import {
  Conn,
  State,
  type RelayEngine,
  type RelayName,
  type RelayOwner,
} from './relay.js'
import { streamRelay } from './relay-streams.js'
import { handleRelay } from './relay-handles.js'
import { uvBinding, uvBindingMissing, type TcpHandle } from './uv-binding.js'
import { processFdBudget, type FdBudget } from './fd-budget.js'

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
  /** The relay engine (default: chooseRelay()). */
  readonly relay?: RelayName
  /** Descriptor accounting (default: the process's, processFdBudget()). */
  readonly fdBudget?: FdBudget
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

/**
 * Idle sweeps per idle-timeout: a connection quiet for this many whole
 * sweeps is closed, so after between idle-timeout and 1.25 x idle-timeout.
 */
export const IDLE_SWEEPS = 4

/**
 * The relay engine: `relay` if given, else TM_PROXY_RELAY, else handles
 * when Node's are as expected. `badEnv`: a TM_PROXY_RELAY that is neither
 * name (ignored; the daemon warns).
 */
export function chooseRelay(asked?: RelayName): {
  engine: RelayEngine<unknown>
  why: string
  badEnv?: string
} {
  const env = process.env.TM_PROXY_RELAY || undefined
  if (asked !== undefined || env === undefined) return pickRelay(asked)
  if (env === 'handles' || env === 'streams') return pickRelay(env)
  return { ...pickRelay(undefined), badEnv: env }
}
function pickRelay(want: RelayName | undefined): {
  engine: RelayEngine<unknown>
  why: string
} {
  const streams = streamRelay as RelayEngine<unknown>
  if (want === 'streams') return { engine: streams, why: 'asked for' }
  const uv = uvBinding()
  if (!uv)
    return {
      engine: streams,
      why: `Node's TCP handles are not usable here (${uvBindingMissing()})`,
    }
  return {
    engine: (handleEngine ??= handleRelay(uv)) as RelayEngine<unknown>,
    why: want === 'handles' ? 'asked for' : 'default',
  }
}
let handleEngine: RelayEngine<TcpHandle> | undefined

type AnyConn = Conn<unknown>

export class ProxyService implements RelayOwner<unknown> {
  #spec: ProxySpec
  readonly balancer: Balancer
  readonly #server: Server
  readonly #log: Logger
  readonly #relay: RelayEngine<unknown>
  readonly #fds: FdBudget
  readonly #open = new Set<AnyConn>()
  readonly #held = new Set<AnyConn>()
  /** Connect attempts in progress, oldest first, under one timer. */
  readonly #connecting = new Set<AnyConn>()
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
  /**
   * Listener errors (an accept failure repeats for every connection the
   * kernel queues): the first logged at once, the rest summed per period.
   */
  readonly #listenerErrors: DropLog

  constructor(spec: ProxySpec, logger: Logger, opts: ProxyServiceOptions = {}) {
    const { onPersist } = opts
    this.#spec = spec
    this.#log = logger
    this.#clock = opts.clock ?? systemClock
    this.#relay = chooseRelay(opts.relay).engine
    this.#fds = opts.fdBudget ?? processFdBudget()
    this.balancer = new Balancer({
      ...balancerSettings(spec),
      ...(onPersist ? { onPersist } : {}),
    })
    this.#server = createServer({ allowHalfOpen: true, noDelay: true })
    this.#listenerErrors = createDropLog(logger, {
      what: `service ${spec.name}: connections`,
      clock: this.#clock,
    })
    this.#server.on('error', (err: NodeJS.ErrnoException) =>
      this.#listenerErrors.drop(err.code ?? err.message, spec.name),
    )
    this.#armIdle()
  }

  get spec(): ProxySpec {
    return this.#spec
  }

  /** The engine that moves the bytes ('handles' or 'streams'). */
  get relay(): RelayName {
    return this.#relay.name
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
        try {
          this.#relay.attach(this.#server, client => this.#accept(client))
        } catch (e) {
          this.#server.close()
          onError(e as Error)
          return
        }
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
        ready,
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
        if (c.slot && !live.has(c.slot.id)) this.upFailed(c, 'node left')
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
  #hold(c: AnyConn): void {
    const now = this.#clock.now()
    if (c.holdUntil === 0) {
      c.holdUntil = now + this.#spec.connectTimeoutMs
      this.heldTotal++
    }
    if (this.#closing || this.#held.size >= HOLD_MAX || c.holdUntil <= now) {
      this.refused++
      this.#relay.destroy(c)
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
      this.#relay.destroy(c)
    })
    this.#held.add(c)
  }

  #unhold(c: AnyConn): void {
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

  #accept(client: unknown): void {
    // getpeername costs a syscall: only persistence needs the client IP.
    const c = new Conn(
      this,
      client,
      this.#spec.persistentMs > 0 ? this.#relay.peerAddress(client) : '',
    )
    this.#open.add(c)
    this.#fds.opened(this.#log)
    this.#relay.start(c)
    if (this.#closing) this.#relay.destroy(c)
    else if (c.state === State.Early) this.#attempt(c)
  }

  /** @internal RelayOwner: the client end is gone. */
  clientClosed(c: AnyConn, _hadError: boolean): void {
    const state = c.state
    c.state = State.Closed
    if (this.#open.delete(c)) this.#fds.closed()
    if (state === State.Connecting) {
      this.#connecting.delete(c)
      this.#relay.dropUp(c)
      this.balancer.abandon(c.slot as Slot)
    } else if (state === State.Held) {
      this.#unhold(c)
      c.state = State.Closed
    }
    if (this.#closing && this.#open.size === 0) this.#wake()
  }

  #attempt(c: AnyConn): void {
    const slot = this.balancer.acquire(c.ip, c.exclude)
    if (!slot) {
      this.#hold(c)
      return
    }
    c.state = State.Connecting
    c.slot = slot
    const now = this.#clock.now()
    c.deadline = now + this.#spec.connectTimeoutMs
    this.#connecting.add(c)
    if (this.#connectTimer === undefined || c.deadline < this.#connectAt)
      this.#armConnect(c.deadline, now)
    this.#relay.connect(c, slot)
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
      if (c.deadline <= now) this.upFailed(c, 'timeout')
    let next = Infinity
    for (const c of this.#connecting) if (c.deadline < next) next = c.deadline
    if (next !== Infinity) this.#armConnect(next, now)
    else this.#disarmConnect()
  }

  #disarmConnect(): void {
    this.#connectTimer?.cancel()
    this.#connectTimer = undefined
  }

  /** @internal RelayOwner: the attempt failed (or timed out, or its node left): another node. */
  upFailed(c: AnyConn, reason: string): void {
    if (c.state !== State.Connecting) return
    const slot = c.slot as Slot
    this.#connecting.delete(c)
    c.state = State.Early
    this.#relay.dropUp(c)
    c.slot = undefined
    this.balancer.abandon(slot)
    if (this.#relay.clientGone(c)) return
    this.#log.debug(
      { service: this.#spec.name, node: slot.id, reason },
      'connect failed; trying another node',
    )
    ;(c.exclude ??= new Set<string>()).add(slot.id)
    this.#attempt(c)
  }

  /** @internal RelayOwner: the node connection is up. */
  upConnected(c: AnyConn): boolean {
    if (c.state !== State.Connecting) return false
    this.#connecting.delete(c)
    c.state = State.Relay
    return true
  }

  /** @internal RelayOwner: a relayed connection's node end is gone. */
  upClosed(c: AnyConn, bytesIn: number, bytesOut: number): void {
    this.balancer.release(c.slot as Slot, bytesIn, bytesOut)
  }

  // Idle timeout: one sweep every idle-timeout / IDLE_SWEEPS over the
  // relayed connections instead of a timer per connection refreshed on
  // every chunk; the engines only set a flag.
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
        this.#relay.destroy(c)
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
      this.#relay.destroy(c)
    }
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
    if (this.#open.size > 0)
      await new Promise<void>(r => this.#idleWaiters.push(r))
    this.#idleTimer?.cancel()
    this.#idleTimer = undefined
    this.#listenerErrors.flush()
  }

  /** Cuts every open connection (after the shutdown deadline). */
  destroyAll(): void {
    for (const c of [...this.#open]) this.#relay.destroy(c)
  }

  #wake(): void {
    const w = this.#idleWaiters
    this.#idleWaiters = []
    for (const r of w) r()
  }
}
