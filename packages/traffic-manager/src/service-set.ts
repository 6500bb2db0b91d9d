// The virtual services as they run: one data plane each, fed the planned
// backend set whenever the table or a manual weight changes. Starting,
// stopping and the proxy worker pool live here; reload.ts decides which
// of these steps a new configuration needs.

import { formatHostPort, type Logger } from '@has/daemon-kit/core'
import type { TmConfig, ServiceConfig } from './config.js'
import type { DataPlaneFactory, DataPlaneOptions } from './data-plane.js'
import { loadDataPlaneFactory } from './data-plane-registry.js'
import { planBackends, failStatic } from './plan.js'
import { InProcessHost, type ProxyHost } from './proxy-host.js'
import { ClusterHost } from './proxy-cluster.js'
import { matchInherited, type InheritedSocket } from './socket-activation.js'
import { isLocalAddress, type Membership } from './membership.js'
import type { Running } from './manager-state.js'

/** Data-plane factories by kind, loaded for one configuration. */
export type Factories = ReadonlyMap<string, DataPlaneFactory>

export interface ServiceSetOptions {
  readonly log: Logger
  readonly membership: Membership
  /** The configuration in force (report timeout for adopted kernel state). */
  readonly config: () => TmConfig
  /** Proxy worker processes; 0 proxies in this process. */
  readonly workers: number
  readonly inherited: readonly InheritedSocket[]
  readonly logLevel?: string | undefined
  readonly dataPlanes?: Readonly<Record<string, DataPlaneFactory>> | undefined
}

export class ServiceSet {
  readonly services = new Map<string, Running>()
  /** Manual weights (control `weight`), by service then node. */
  readonly overrides = new Map<string, Map<string, number>>()
  readonly #o: ServiceSetOptions
  readonly #log: Logger
  #hostStarting: Promise<ProxyHost> | undefined
  #recomputeQueued = false
  #counterRefresh: Promise<void> | undefined

  constructor(o: ServiceSetOptions) {
    this.#o = o
    this.#log = o.log
  }

  /** The inherited socket a proxy service listens on instead of binding. */
  inheritedFor(s: ServiceConfig): InheritedSocket | undefined {
    return s.dataplane === 'proxy'
      ? matchInherited(this.#o.inherited, s.address, s.port)
      : undefined
  }

  optionsFor(s: ServiceConfig): DataPlaneOptions {
    const inherited = this.inheritedFor(s)
    return {
      scheduler: s.scheduler,
      persistentMs: s.persistentMs,
      persistentMax: s.persistentMax,
      persistentV4Prefix: s.persistentNetmask,
      persistentV6Prefix: s.persistentPrefix6,
      connectTimeoutMs: s.connectTimeoutMs,
      idleTimeoutMs: s.idleTimeoutMs,
      ...(inherited ? { inheritedFd: inherited.fd } : {}),
      extra: s.options,
    }
  }

  /** Nothing the data plane sees differs (nodes and weights go by push). */
  same(a: ServiceConfig, b: ServiceConfig): boolean {
    return (
      a.dataplane === b.dataplane &&
      JSON.stringify(this.optionsFor(a)) === JSON.stringify(this.optionsFor(b))
    )
  }

  /** Loads every data plane a configuration names, side by side. */
  async factories(cfg: TmConfig): Promise<Factories> {
    const kinds = [...new Set(cfg.services.map(s => s.dataplane))]
    const loaded = await Promise.all(
      kinds.map(k =>
        loadDataPlaneFactory(k, {
          proxyHost: () => this.#proxyHost(),
          ...(this.#o.dataPlanes ? { extra: this.#o.dataPlanes } : {}),
        }),
      ),
    )
    return new Map(kinds.map((k, i) => [k, loaded[i] as DataPlaneFactory]))
  }

  /** Starts a service's data plane; registers it only once it runs. */
  async start(s: ServiceConfig, f: Factories): Promise<Running> {
    const log = this.#log
    const r: Running = { cfg: s, plan: [], pushed: '', counters: new Map() }
    // A kernel data plane must be in place before the VIP arrives: packets
    // for a VIP that is local with no NAT rules are delivered here and reset.
    // A table adopted from the previous instance (restart) is in place.
    const early = s.dataplane !== 'proxy' && isLocalAddress(s.address)
    try {
      const factory = f.get(s.dataplane) as DataPlaneFactory
      r.dp = await factory(
        { name: s.name, address: s.address, port: s.port, family: s.family },
        {
          logger: log.child({ service: s.name }),
          holdMs: this.#o.config().timeoutMs,
        },
        this.optionsFor(s),
      )
      if (early && !r.dp.adopted) {
        log.warn(
          { service: s.name, dataplane: s.dataplane, vip: s.address },
          'VIP is already local while its kernel data plane was not ready: connections to it were reset until now; start traffic-manager before the VIP moves here (heartbeatd haresources order)',
        )
      }
      const bound = (r.dp as { address?: unknown }).address
      const from = this.inheritedFor(s)
      log.info(
        {
          service: s.name,
          dataplane: s.dataplane,
          scheduler: s.scheduler,
          ...(typeof bound === 'string' ? { listening: bound } : {}),
          ...(from ? { inherited: { fd: from.fd, name: from.name } } : {}),
        },
        'virtual service up',
      )
      this.services.set(s.name, r)
      this.push(r)
      return r
    } catch (err) {
      log.error(
        {
          err,
          service: s.name,
          ...(early ? { vip: s.address, vipLocal: true } : {}),
        },
        early
          ? 'virtual service failed to start while its VIP is local: connections to the VIP are reset'
          : 'virtual service failed to start',
      )
      throw err
    }
  }

  /** Every service of the first configuration, or none (all stopped again). */
  async startAll(config: TmConfig): Promise<void> {
    // Side by side (issue 18.12): a proxied VIP does not wait for the
    // kernel plane's programs, nor the reverse.
    const f = await this.factories(config)
    const results = await Promise.allSettled(
      config.services.map(s => this.start(s, f)),
    )
    const failed = results.find(
      (x): x is PromiseRejectedResult => x.status === 'rejected',
    )
    if (failed) throw failed.reason
    // Status lists them in config order, whichever came up first.
    const started = new Map(this.services)
    this.services.clear()
    for (const s of config.services) {
      const r = started.get(s.name)
      if (r) this.services.set(s.name, r)
    }
    this.#warnUnmatchedInherited(config)
  }

  stop(r: Running): Promise<void> {
    if (this.services.get(r.cfg.name) === r) this.services.delete(r.cfg.name)
    return r.dp?.close() ?? Promise.resolve()
  }

  /** Plans a service's backends and hands them over if they changed. */
  push(r: Running): void {
    const { membership } = this.#o
    const wasStatic = failStatic(r.plan)
    r.plan = planBackends(
      membership.autojoins(r.cfg.name)
        ? { ...r.cfg, nodes: membership.nodesOf(r.cfg) }
        : r.cfg,
      a => membership.table.get(a),
      this.overrides.get(r.cfg.name),
    )
    const isStatic = failStatic(r.plan)
    if (isStatic !== wasStatic) {
      if (isStatic)
        this.#log.warn(
          {
            service: r.cfg.name,
            kept: r.plan.filter(p => p.kept).map(p => p.id),
            timeoutMs: membership.table.timeoutMs,
          },
          'every serving node went silent; keeping them until a report comes (fail-static)',
        )
      else
        this.#log.info(
          {
            service: r.cfg.name,
            serving: r.plan.filter(p => p.weight > 0).length,
          },
          'fail-static over',
        )
    }
    const key = JSON.stringify(r.plan.map(p => [p.id, p.weight, p.port]))
    if (!r.dp || key === r.pushed) return
    r.pushed = key
    r.dp
      .update(r.plan)
      .catch((err: unknown) =>
        this.#log.error(
          { err, service: r.cfg.name },
          'data plane update failed',
        ),
      )
  }

  /** Reports arrive in bursts: one recompute per event-loop turn. */
  queueRecompute(): void {
    if (this.#recomputeQueued) return
    this.#recomputeQueued = true
    setImmediate(() => this.recompute())
  }

  /** Applies a queued recompute now (a reader must not see a stale plan). */
  recompute(): void {
    if (!this.#recomputeQueued) return
    this.#recomputeQueued = false
    for (const r of this.services.values()) this.push(r)
  }

  /** Reads the data planes' counters; concurrent callers share one read. */
  refreshCounters(): Promise<void> {
    return (this.#counterRefresh ??= (async () => {
      try {
        await Promise.all(
          [...this.services.values()].map(async r => {
            if (r.dp) r.counters = await r.dp.counters()
          }),
        )
      } finally {
        this.#counterRefresh = undefined
      }
    })())
  }

  /** Drops manual weights of services and nodes a reload removed. */
  pruneOverrides(next: TmConfig): void {
    for (const [name, m] of this.overrides) {
      const s = next.services.find(x => x.name === name)
      if (!s) this.overrides.delete(name)
      else
        for (const n of m.keys())
          if (!this.#o.membership.nodesOf(s).some(x => x.address === n))
            m.delete(n)
    }
  }

  /**
   * SIGTERM: listeners close; kernel tables stay for the next instance
   * (detach), since a restart must not reset the flows they translate.
   */
  async detachAll(): Promise<void> {
    await Promise.all(
      [...this.services.values()].map(r => r.dp?.detach?.() ?? this.stop(r)),
    )
  }

  /** Stops every service and the worker pool (startup failed, or close). */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.services.values()].map(r => this.stop(r)))
  }

  /** The worker pool, which may still be starting (factories load side by side). */
  async closeHost(): Promise<void> {
    await this.#hostStarting?.then(
      h => h.close(),
      () => undefined,
    )
  }

  #proxyHost(): Promise<ProxyHost> {
    return (this.#hostStarting ??= (async () => {
      const logger = this.#log.child({ component: 'proxy' })
      const { workers, inherited, logLevel } = this.#o
      return workers === 0
        ? new InProcessHost(logger)
        : await ClusterHost.start({
            workers,
            logger,
            ...(logLevel ? { logLevel } : {}),
            ...(inherited.length
              ? { inheritedFds: inherited.map(i => i.fd) }
              : {}),
          })
    })())
  }

  #warnUnmatchedInherited(config: TmConfig): void {
    for (const i of this.#o.inherited) {
      if (!config.services.some(s => this.inheritedFor(s) === i)) {
        this.#log.warn(
          {
            fd: i.fd,
            name: i.name,
            address: formatHostPort({ host: i.address, port: i.port }),
          },
          'inherited socket matches no proxy virtual service: connections to it wait unanswered; fix the socket unit or the config',
        )
      }
    }
  }
}
