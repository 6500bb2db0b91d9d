// What the proxy's control (proxy-service.ts: nodes, holds, timeouts) and
// its relay engines share: the per-connection state and the contract of an
// engine. Two engines move the bytes: relay-handles.ts on libuv's TCP
// handles (the default), relay-streams.ts on `net.Socket` (the fallback
// when Node's handle classes are not as expected, or when asked for).

import type { Server } from 'node:net'
import type { Timer } from '@has/daemon-kit/clock'
import type { Slot } from './balancer.js'

export type RelayName = 'handles' | 'streams'

export const enum State {
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

/** Bytes read from a client before its node connection is up. */
export const EARLY_MAX = 64 * 1024

/** The engine's side of the control: what it reports, in the order it happens. */
export interface RelayOwner<S> {
  /** The node connection is up: true to relay, false when the attempt is stale (the engine drops it). */
  upConnected(c: Conn<S>): boolean
  /** The node connection failed before it was up. */
  upFailed(c: Conn<S>, reason: string): void
  /** The client end is gone (closed, reset, or destroyed by us). */
  clientClosed(c: Conn<S>, hadError: boolean): void
  /** The node end of a relayed connection is gone: bytes from and to the client. */
  upClosed(c: Conn<S>, bytesIn: number, bytesOut: number): void
}

/** One client connection: what control and engine need, in one object. S: the engine's socket type. */
export class Conn<S> {
  state = State.Early
  up: S | undefined = undefined
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
  /** The engine's bits (ends' states, hooked listeners). */
  flags = 0
  /** Writes the engine has in flight to the node and to the client. */
  pendUp = 0
  pendClient = 0
  /** Bytes read from and written to the client (the handle engine counts them). */
  bytesIn = 0
  bytesOut = 0
  /** The handle engine's read buffers, client end and node end. */
  readClient: Buffer | undefined = undefined
  readUp: Buffer | undefined = undefined
  constructor(
    readonly owner: RelayOwner<S>,
    readonly client: S,
    readonly ip: string,
  ) {}
}

export interface RelayEngine<S> {
  readonly name: RelayName
  /**
   * Once `server` listens: hand each accepted client to `accept`, which
   * makes its Conn and calls start().
   */
  attach(server: Server, accept: (client: S) => void): void
  /** The client's address (a syscall: only persistence asks). */
  peerAddress(client: S): string
  /** Starts reading the client: early bytes go to c.chunks, bounded by EARLY_MAX. */
  start(c: Conn<S>): void
  /** Connects to the node of c.slot; reports upConnected or upFailed. */
  connect(c: Conn<S>, slot: Slot): void
  /** Drops the node end of an attempt that failed or is abandoned. */
  dropUp(c: Conn<S>): void
  /** Cuts the connection, both ends. */
  destroy(c: Conn<S>): void
  /** The client end is already gone. */
  clientGone(c: Conn<S>): boolean
}
