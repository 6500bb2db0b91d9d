// One highly available mount: every server's export mounted at its own
// staging directory, probed (RPC NULL on a short interval, stat in a child
// process on a slower one), and the server the policy picks presented at
// the mount point. Probe rounds never overlap; mount commands run in child
// processes with timeouts, so nothing here can block the event loop.

import { systemClock, type Clock } from '@has/daemon-kit'
import { mkdir, rmdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Logger } from '@has/daemon-kit'
import type { HnmConfig, MountSpec } from './config.js'
import type { HnmMetrics } from './metrics.js'
import type { Mounter, MountOps } from './mounter.js'
import { FailoverPolicy } from './policy.js'
import { Presenter } from './presenter.js'
import { rpcNullProbe, type NullProbeResult } from './rpc-client.js'
import { StatProbe, type StatResult } from './stat-probe.js'
import { backoffMs } from './rsync-args.js'

// A server that answers RPC but whose export will not mount (wrong path,
// bad options, ACLs) is retried with back-off, not on every probe round.
const MOUNT_RETRY_MIN = 1000 // ms
const MOUNT_RETRY_MAX = 30_000 // ms

/** Only now() is read: mount retries are decided on probe rounds, not timers. */
export type MountClock = Pick<Clock, 'now'>

interface Replica {
  readonly server: string
  readonly staging: string
  readonly stat: StatProbe
  staged: boolean
  mounting: boolean
  lastRpc: NullProbeResult | null
  lastStat: StatResult | null
  mountError: string | null
  mountFailures: number
  /** Clock value before which a failed mount is not retried. */
  nextMountAt: number
}

export interface FailoverEvent {
  readonly from: string | null
  readonly to: string
  readonly reason: string
  readonly at: string
  readonly swapMs: number
}

export interface HaMountStatus {
  readonly mountPoint: string
  readonly source: string
  readonly active: string | null
  readonly layers: readonly string[]
  readonly failovers: number
  readonly lastFailover: FailoverEvent | null
  readonly servers: readonly {
    name: string
    healthy: boolean
    staged: boolean
    consecutiveFailures: number
    lastError: string | null
    rpc: Readonly<Record<string, string>> | null
    rpcMs: number | null
    statMs: number | null
  }[]
}

/** A directory name for a mount point: /mnt/CommonNFS → mnt_CommonNFS. */
export function stagingName(mountPoint: string): string {
  return (
    mountPoint.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]/g, '_') || 'root'
  )
}

export class HaMount {
  readonly spec: MountSpec
  #config: HnmConfig
  readonly #policy: FailoverPolicy
  readonly #replicas: Replica[]
  readonly #presenter: Presenter
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined
  #statTimer: NodeJS.Timeout | undefined
  #closed = false
  #failovers = 0
  #lastFailover: FailoverEvent | null = null
  #round: Promise<void> = Promise.resolve()

  constructor(
    spec: MountSpec,
    config: HnmConfig,
    readonly mounter: Mounter,
    readonly ops: MountOps,
    readonly metrics: HnmMetrics,
    logger: Logger,
    readonly clock: MountClock = systemClock,
  ) {
    this.spec = spec
    this.#config = config
    this.#log = logger.child({ component: 'mount', mount: spec.mountPoint })
    this.#policy = new FailoverPolicy({
      servers: spec.servers,
      failures: spec.failures,
      failbackHoldMs: spec.failbackHoldMs,
    })
    const base = join(config.stagingDir, stagingName(spec.mountPoint))
    this.#replicas = spec.servers.map(server => {
      const staging = join(base, server.replace(/[^A-Za-z0-9._-]/g, '_'))
      return {
        server,
        staging,
        stat: new StatProbe(staging),
        staged: false,
        mounting: false,
        lastRpc: null,
        lastStat: null,
        mountError: null,
        mountFailures: 0,
        nextMountAt: 0,
      }
    })
    this.#presenter = new Presenter(spec.mountPoint, ops)
  }

  get active(): string | null {
    return this.#policy.active
  }

  /** Mounts the replicas, runs a first probe round and presents a server. */
  async start(): Promise<void> {
    await mkdir(this.spec.mountPoint, { recursive: true })
    for (const r of this.#replicas) {
      await mkdir(r.staging, { recursive: true })
      // A staging mount left by a crashed run is ours: drop it first.
      await this.ops.detach(r.staging)
    }
    await Promise.all(this.#replicas.map(r => this.#stage(r)))
    await Promise.all(this.#replicas.map(r => this.#statOne(r)))
    await this.#probeRound()
    if (!this.#policy.active) {
      this.#log.warn(
        'no healthy server yet; the mount point stays empty until one answers',
      )
    }
    this.#schedule()
    this.#scheduleStat()
  }

  /** Applies new timing and policy numbers (mount lines need a restart). */
  update(config: HnmConfig): void {
    this.#config = config
  }

  async #stage(r: Replica): Promise<void> {
    if (r.staged || r.mounting) return
    r.mounting = true
    try {
      await this.mounter.mountReplica(
        r.server,
        this.spec.exportPath,
        r.staging,
        this.spec.nfsOptions,
      )
      r.staged = true
      r.mountError = null
      r.mountFailures = 0
      this.#log.info(
        { server: r.server, staging: r.staging },
        'replica mounted',
      )
    } catch (err) {
      const message = (err as Error).message
      const repeated = message === r.mountError
      r.mountError = message
      r.mountFailures++
      const retryInMs = backoffMs(
        r.mountFailures,
        MOUNT_RETRY_MIN,
        MOUNT_RETRY_MAX,
      )
      r.nextMountAt = this.clock.now() + retryInMs
      this.metrics.probeFailures.inc({
        mount: this.spec.mountPoint,
        server: r.server,
        probe: 'mount',
      })
      // The same error again is not news: keep the log readable.
      this.#log[repeated ? 'debug' : 'warn'](
        {
          event: 'mount-failed',
          server: r.server,
          err,
          retryInMs,
          mountFailures: r.mountFailures,
        },
        'cannot mount replica; will retry while it answers',
      )
    } finally {
      r.mounting = false
    }
  }

  async #statOne(r: Replica): Promise<void> {
    if (!r.staged) return
    r.lastStat = await r.stat.probe(this.#config.statTimeout)
    if (!r.lastStat.ok) {
      this.metrics.probeFailures.inc({
        mount: this.spec.mountPoint,
        server: r.server,
        probe: 'stat',
      })
    }
  }

  #schedule(): void {
    if (this.#closed) return
    // The active server just failed a probe but is not down yet: confirm
    // (or clear) it sooner, which cuts detection time without probing a
    // healthy pair any faster.
    const active = this.#policy
      .health()
      .find(h => h.name === this.#policy.active)
    const suspect =
      active !== undefined && active.healthy && active.consecutiveFailures > 0
    const delay = suspect
      ? Math.max(10, Math.round(this.#config.interval / 4))
      : this.#config.interval
    this.#timer = setTimeout(() => {
      this.#round = this.#probeRound()
        .catch(err => this.#log.error({ err }, 'probe round failed'))
        .finally(() => this.#schedule())
    }, delay)
  }

  #scheduleStat(): void {
    if (this.#closed) return
    this.#statTimer = setTimeout(() => {
      void Promise.all(this.#replicas.map(r => this.#statOne(r))).finally(() =>
        this.#scheduleStat(),
      )
    }, this.#config.statInterval)
  }

  async #probeRound(): Promise<void> {
    const mount = this.spec.mountPoint
    const results = await Promise.all(
      this.#replicas.map(r =>
        rpcNullProbe({
          host: r.server.replace(/^\[|\]$/g, ''),
          port: this.spec.rpcPort,
          versions: this.spec.rpcVersions,
          timeoutMs: this.#config.probeTimeout,
        }),
      ),
    )
    if (this.#closed) return
    const now = this.clock.now()
    this.#replicas.forEach((r, i) => {
      const rpc = results[i] as NullProbeResult
      r.lastRpc = rpc
      this.metrics.rpcRtt.set({ mount, server: r.server }, rpc.ms / 1000)
      if (!rpc.ok)
        this.metrics.probeFailures.inc({
          mount,
          server: r.server,
          probe: 'rpc',
        })
      // A server that answers but is not mounted yet gets (re)mounted in
      // the background; until then it cannot be presented.
      if (rpc.ok && !r.staged && now >= r.nextMountAt) void this.#stage(r)
      const statFailed = r.lastStat !== null && !r.lastStat.ok
      const ok = rpc.ok && r.staged && !statFailed
      const error = !rpc.ok
        ? `rpc: ${rpc.error ?? JSON.stringify(rpc.versions)}`
        : !r.staged
          ? `not mounted: ${r.mountError ?? 'mounting'}`
          : statFailed
            ? `stat: ${r.lastStat?.error}`
            : undefined
      this.#policy.sample(r.server, ok, now, error)
    })
    for (const h of this.#policy.health()) {
      this.metrics.serverHealthy.set(
        { mount, server: h.name },
        h.healthy ? 1 : 0,
      )
    }
    const healthyCount = this.#policy.health().filter(h => h.healthy).length
    this.metrics.noHealthy.set({ mount }, healthyCount === 0 ? 1 : 0)
    const d = this.#policy.decide(now)
    if (d.kind === 'switch') await this.#swap(d.from, d.to, d.reason)
  }

  async #swap(from: string | null, to: string, reason: string): Promise<void> {
    const r = this.#replicas.find(x => x.server === to) as Replica
    const t0 = performance.now()
    try {
      const how = await this.#presenter.present(to, r.staging)
      const swapMs = performance.now() - t0
      this.#failovers += from === null ? 0 : 1
      this.#lastFailover = {
        from,
        to,
        reason,
        at: new Date().toISOString(),
        swapMs,
      }
      const mount = this.spec.mountPoint
      this.metrics.swapSeconds.set({ mount }, swapMs / 1000)
      if (from !== null) this.metrics.failovers.inc({ mount, from, to })
      for (const s of this.spec.servers)
        this.metrics.active.set({ mount, server: s }, s === to ? 1 : 0)
      this.#log.info(
        {
          event: from === null ? 'present' : 'failover',
          from,
          to,
          reason,
          how,
          swapMs,
          layers: this.#presenter.layers,
        },
        from === null ? 'presenting server' : 'switched server',
      )
    } catch (err) {
      this.#policy.revert(from)
      this.#log.error(
        { err, from, to },
        'cannot switch the mount point; staying',
      )
    }
  }

  status(): HaMountStatus {
    return {
      mountPoint: this.spec.mountPoint,
      source: this.spec.source,
      active: this.#policy.active,
      layers: this.#presenter.layers,
      failovers: this.#failovers,
      lastFailover: this.#lastFailover,
      servers: this.#policy.health().map((h, i) => {
        const r = this.#replicas[i] as Replica
        return {
          name: h.name,
          healthy: h.healthy,
          staged: r.staged,
          consecutiveFailures: h.consecutiveFailures,
          lastError: h.lastError,
          rpc: r.lastRpc?.versions ?? null,
          rpcMs: r.lastRpc ? Math.round(r.lastRpc.ms * 10) / 10 : null,
          statMs: r.lastStat ? Math.round(r.lastStat.ms * 10) / 10 : null,
        }
      }),
    }
  }

  /** Unmounts the mount point and the staging mounts (lazily: never hangs). */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    clearTimeout(this.#statTimer)
    await this.#round
    await this.#presenter.clear()
    for (const r of this.#replicas) {
      if (r.staged) await this.ops.detach(r.staging)
      r.staged = false
      await rmdir(r.staging).catch(() => undefined)
    }
    await rmdir(dirname(this.#replicas[0]?.staging ?? '/')).catch(
      () => undefined,
    )
    this.#log.info('unmounted')
  }
}
