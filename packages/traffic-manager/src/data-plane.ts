// The seam between the control plane (live table, schedulers) and whatever
// forwards the bytes: the in-process userspace proxy, or the kernel
// (nftables DNAT + conntrack). Both are driven the same way: the control
// plane pushes the eligible backends and their weights on every membership
// or weight change, and reads per-backend counters back for status/metrics.

import type { Logger } from '@has/daemon-kit/core'
import type { SchedulerName } from './schedulers.js'

export interface Backend {
  /** Stable id: the node address as configured (IPv4 or IPv6). */
  readonly id: string
  readonly host: string
  readonly port: number
  /** Current weight; 0 quiesces (no new connections, open ones continue). */
  readonly weight: number
}

export interface VirtualServiceSpec {
  /** Service name as written in the config (`<vip>:<port>` by default). */
  readonly name: string
  readonly address: string
  readonly port: number
  readonly family: 4 | 6
}

/**
 * How the control plane wants one service forwarded: the virtual service
 * block's settings, typed. A data plane reads what applies to it (the
 * kernel planes ignore the proxy's timeouts) and parses its own `option`
 * lines from `extra`.
 */
export interface DataPlaneOptions {
  readonly scheduler: SchedulerName
  /** Client affinity, ms; 0 = none. */
  readonly persistentMs: number
  /** Affinity table cap, and the prefix lengths that group clients. */
  readonly persistentMax: number
  readonly persistentV4Prefix: number
  readonly persistentV6Prefix: number
  readonly connectTimeoutMs: number
  readonly idleTimeoutMs: number
  /** A listening socket the service manager passed for this address. */
  readonly inheritedFd?: number
  /** `option <key> <value>` lines as written: the data plane's own. */
  readonly extra: Readonly<Record<string, string>>
}

export interface BackendCounters {
  /** Connections open now. */
  readonly active: number
  /** Connections since start. */
  readonly total: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** Packets, where the data plane counts them (kernel). */
  readonly packets?: number
}

export interface DataPlane {
  readonly kind: 'proxy' | 'nftables' | 'nftables-dr'
  /** Applies a new backend set; must not disturb established connections. */
  update(backends: readonly Backend[]): Promise<void>
  /** Per-backend counters keyed by Backend.id. */
  counters(): Promise<ReadonlyMap<string, BackendCounters>>
  /** Graceful stop: stop accepting, let open connections finish or time out. */
  close(): Promise<void>
  /**
   * Optional: the process stops (SIGTERM) but the service is not removed.
   * Kernel data planes leave their state for the next instance to adopt
   * (a restart must not reset flows). Without it, close() is used.
   */
  detach?(): Promise<void>
  /** True when it took over state a previous instance left (kernel table). */
  readonly adopted?: boolean
  /**
   * Optional: applies changed options (scheduler, timeouts, persistence)
   * without closing the listener. Without it, a changed service is closed
   * and started again.
   */
  reconfigure?(options: DataPlaneOptions): Promise<void>
}

export interface DataPlaneContext {
  readonly logger: Logger
  /**
   * How long kernel state adopted from a previous instance is kept while no
   * backend is known yet (the report timeout: nodes silent that long left).
   */
  readonly holdMs?: number
}

export type DataPlaneFactory = (
  spec: VirtualServiceSpec,
  ctx: DataPlaneContext,
  options: DataPlaneOptions,
) => Promise<DataPlane>
