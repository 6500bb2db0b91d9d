// The daemon's core: load reports in, live table, per-service backend sets
// out to the data planes, and the control commands. createTrafficManager is
// the library entry; the CLI wraps it in the kit's runDaemon.

import { BlockList, isIPv4 } from 'node:net'
import { availableParallelism } from 'node:os'
import {
  Registry,
  createDropLog,
  formatHostPort,
  type ControlHandlers,
  type ErrorLogStream,
  systemClock,
  type Clock,
  type Timer,
  type Logger,
  type Service,
} from '@has/daemon-kit'
import type { TmConfig, ServiceConfig } from './config.js'
import type { DataPlaneFactory, DataPlaneOptions } from './data-plane.js'
import { LiveTable, type AutojoinPolicy } from './live-table.js'
import { ReportSources, hostAddresses } from './report-sources.js'
import { planBackends } from './plan.js'
import { startReportServer, type ReportServer } from './report-server.js'
import { loadDataPlaneFactory } from './data-plane-registry.js'
import { InProcessHost, type ProxyHost } from './proxy-host.js'
import { ClusterHost } from './proxy-cluster.js'
import { tmError } from './errors.js'
import { openErrorLog } from './logging.js'
import { matchInherited, type InheritedSocket } from './socket-activation.js'
import type { ManagerState, Running } from './manager-state.js'
import { createManagerMetrics } from './manager-metrics.js'
import { statusView, type StatusSnapshot } from './status-view.js'
import { controlCommands } from './control-commands.js'

export type {
  ServiceNodeStatus,
  ServiceStatus,
  StatusSnapshot,
} from './status-view.js'

export interface TrafficManagerOptions {
  readonly config: TmConfig
  readonly logger: Logger
  /** Clock for report ages and the expiry timer (tests inject one). */
  readonly clock?: Clock
  /** Extra or replacement data planes: kind → factory. */
  readonly dataPlanes?: Readonly<Record<string, DataPlaneFactory>>
  /** Log level handed to proxy worker processes. */
  readonly logLevel?: string
  /**
   * The ErrorLog stream behind the logger (logging.ts); reopened with
   * config.errorLog on every reload, so logrotate can move the file.
   */
  readonly errorLog?: ErrorLogStream
  /** Listening sockets passed by the service manager (socket-activation.ts). */
  readonly inherited?: readonly InheritedSocket[]
}

export interface TrafficManager extends Service<TmConfig, StatusSnapshot> {
  readonly registry: Registry
  readonly commands: ControlHandlers
  /** Where reports are received (port 0 in the config picks one). */
  readonly reportAddress: { host: string; port: number }
  /** Status with fresh counters from the data planes. */
  snapshot(): Promise<StatusSnapshot>
  /** The live table (read-only use). */
  readonly table: LiveTable
}

export async function createTrafficManager(
  opts: TrafficManagerOptions,
): Promise<TrafficManager> {
  const log = opts.logger
  const clock = opts.clock ?? systemClock
  const now = (): number => clock.now()
  let config = opts.config
  const sourcesOf = (c: TmConfig): ReportSources =>
    new ReportSources({
      masters: c.masters,
      allow: c.reportFrom,
      isLocal: isLocalAddress,
    })
  let autojoinRanges = new Map<string, BlockList>()
  const autojoinOf = (c: TmConfig): AutojoinPolicy | undefined => {
    const ranges = new Map(
      c.services
        .filter(s => s.autojoin.length)
        .map(s => [s.name, cidrList(s.autojoin)]),
    )
    autojoinRanges = ranges
    if (ranges.size === 0) return undefined
    return {
      max: c.autojoinMax,
      allowed: a => [...ranges.values()].some(b => inList(b, a)),
    }
  }
  const table = new LiveTable({
    nodes: config.nodes,
    key: config.key,
    timeoutMs: config.timeoutMs,
    sources: sourcesOf(config),
    autojoin: autojoinOf(config),
    now,
  })
  /** A service's nodes: those listed, then auto-joined ones in its ranges (port: the VIP's). */
  const nodesOf = (
    s: ServiceConfig,
  ): { address: string; port: number; auto?: boolean }[] => {
    const out: { address: string; port: number; auto?: boolean }[] = [
      ...s.nodes,
    ]
    const ranges = autojoinRanges.get(s.name)
    if (!ranges) return out
    for (const e of table.entries()) {
      if (
        e.auto &&
        inList(ranges, e.address) &&
        !s.nodes.some(n => n.address === e.address)
      )
        out.push({ address: e.address, port: s.port, auto: true })
    }
    return out
  }
  const services = new Map<string, Running>()
  const overrides = new Map<string, Map<string, number>>()
  const state: ManagerState = {
    table,
    services,
    overrides,
    config: () => config,
    nodesOf,
    // Defined below; called only once requests and scrapes arrive.
    refreshCounters: () => refreshCounters(),
  }
  const workerCount =
    config.workers === 'auto' ? availableParallelism() : config.workers
  const inherited = opts.inherited ?? []
  /** The inherited socket a proxy service listens on instead of binding. */
  const inheritedFor = (s: ServiceConfig): InheritedSocket | undefined =>
    s.dataplane === 'proxy'
      ? matchInherited(inherited, s.address, s.port)
      : undefined
  let host: ProxyHost | undefined
  let hostStarting: Promise<ProxyHost> | undefined
  const proxyHost = (): Promise<ProxyHost> =>
    (hostStarting ??= (async () => {
      host =
        workerCount === 0
          ? new InProcessHost(log.child({ component: 'proxy' }))
          : await ClusterHost.start({
              workers: workerCount,
              logger: log.child({ component: 'proxy' }),
              ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
              ...(inherited.length
                ? { inheritedFds: inherited.map(i => i.fd) }
                : {}),
            })
      return host
    })())

  // Metrics (manager-metrics.ts)
  const { registry, accepted, dropped } = createManagerMetrics(state)

  // Reports ------------------------------------------------------------
  let expiryTimer: Timer | undefined
  let recomputeQueued = false
  const scheduleExpiry = (): void => {
    if (expiryTimer) return
    const at = table.nextExpiry()
    if (at === undefined) return
    expiryTimer = clock.after(Math.max(0, at - now()), () => {
      expiryTimer = undefined
      const gone = table.expire()
      for (const node of gone) {
        const auto = table.get(node) === undefined
        log.warn(
          { node, timeoutMs: table.timeoutMs, ...(auto ? { auto } : {}) },
          auto
            ? 'auto-joined node silent past timeout; left'
            : 'node silent past timeout; removed',
        )
      }
      if (gone.length) queueRecompute()
      scheduleExpiry()
    })
  }
  // Reports arrive in bursts: one recompute per event-loop turn.
  const recompute = (): void => {
    if (!recomputeQueued) return
    recomputeQueued = false
    for (const r of services.values()) push(r)
  }
  const queueRecompute = (): void => {
    if (recomputeQueued) return
    recomputeQueued = true
    setImmediate(recompute)
  }
  const push = (r: Running): void => {
    r.plan = planBackends(
      autojoinRanges.has(r.cfg.name)
        ? { ...r.cfg, nodes: nodesOf(r.cfg) }
        : r.cfg,
      a => table.get(a),
      overrides.get(r.cfg.name),
    )
    const key = JSON.stringify(r.plan.map(p => [p.id, p.weight, p.port]))
    if (!r.dp || key === r.pushed) return
    r.pushed = key
    r.dp
      .update(r.plan)
      .catch((err: unknown) =>
        log.error({ err, service: r.cfg.name }, 'data plane update failed'),
      )
  }
  const dropLog = createDropLog(log, { what: 'load reports' })
  const onDatagram = (
    msg: Buffer,
    from: { address: string; port: number },
  ): void => {
    const res = table.receive(msg, from.address)
    if (!res.accepted) {
      dropped.inc({ reason: res.reason })
      dropLog.drop(res.reason, from.address)
      log.debug(
        { reason: res.reason, detail: res.detail, from: from.address },
        'report dropped',
      )
      return
    }
    accepted.inc()
    if (res.joined) {
      const svc = [...autojoinRanges]
        .filter(([, b]) => inList(b, res.node))
        .map(([n]) => n)
      log.info(
        { node: res.node, from: from.address, services: svc },
        'node joined by itself (autojoin)',
      )
    }
    if (res.statusChanged) {
      const e = table.get(res.node)
      log.info(
        { node: res.node, state: e?.status, load: e?.load, sender: e?.sender },
        'node state changed',
      )
    }
    if (res.changed) queueRecompute()
    scheduleExpiry()
  }
  let reports: ReportServer = await startReportServer(
    config.listen,
    config.port,
    onDatagram,
  )
  warnIfOpen(log, config)

  // Services -----------------------------------------------------------
  const optionsFor = (s: ServiceConfig): DataPlaneOptions => {
    const inherited = inheritedFor(s)
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
  const sameService = (a: ServiceConfig, b: ServiceConfig): boolean =>
    a.dataplane === b.dataplane &&
    JSON.stringify(optionsFor(a)) === JSON.stringify(optionsFor(b))
  /** Starts a service's data plane; registers it only once it runs. */
  const startService = async (
    s: ServiceConfig,
    factory: DataPlaneFactory,
  ): Promise<Running> => {
    const r: Running = { cfg: s, plan: [], pushed: '', counters: new Map() }
    // A kernel data plane must be in place before the VIP arrives: packets
    // for a VIP that is local with no NAT rules are delivered here and reset.
    // A table adopted from the previous instance (restart) is in place.
    const early = s.dataplane !== 'proxy' && isLocalAddress(s.address)
    try {
      r.dp = await factory(
        { name: s.name, address: s.address, port: s.port, family: s.family },
        {
          logger: log.child({ service: s.name }),
          holdMs: config.timeoutMs,
        },
        optionsFor(s),
      )
      if (early && !r.dp.adopted) {
        log.warn(
          { service: s.name, dataplane: s.dataplane, vip: s.address },
          'VIP is already local while its kernel data plane was not ready: connections to it were reset until now; start traffic-manager before the VIP moves here (heartbeatd haresources order)',
        )
      }
      const bound = (r.dp as { address?: unknown }).address
      const from = inheritedFor(s)
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
      services.set(s.name, r)
      push(r)
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
  const factories = async (
    cfg: TmConfig,
  ): Promise<Map<string, DataPlaneFactory>> => {
    // Loaded side by side: the proxy's first worker and the nft module.
    const kinds = [...new Set(cfg.services.map(s => s.dataplane))]
    const loaded = await Promise.all(
      kinds.map(k =>
        loadDataPlaneFactory(k, {
          proxyHost,
          ...(opts.dataPlanes ? { extra: opts.dataPlanes } : {}),
        }),
      ),
    )
    return new Map(kinds.map((k, i) => [k, loaded[i] as DataPlaneFactory]))
  }
  const stopService = (r: Running): Promise<void> => {
    if (services.get(r.cfg.name) === r) services.delete(r.cfg.name)
    return r.dp?.close() ?? Promise.resolve()
  }
  try {
    // Services start side by side (issue 18.12): a proxied VIP does not wait
    // for the kernel plane's programs, nor the reverse.
    const f = await factories(config)
    const results = await Promise.allSettled(
      config.services.map(s =>
        startService(s, f.get(s.dataplane) as DataPlaneFactory),
      ),
    )
    const failed = results.find(
      (x): x is PromiseRejectedResult => x.status === 'rejected',
    )
    if (failed) throw failed.reason
    // Status lists them in config order, whichever came up first.
    const started = new Map(services)
    services.clear()
    for (const s of config.services) {
      const r = started.get(s.name)
      if (r) services.set(s.name, r)
    }
  } catch (e) {
    dropLog.close()
    await Promise.allSettled([...services.values()].map(stopService))
    await reports.close()
    // The worker pool may still be starting (factories load side by side).
    await hostStarting?.then(
      h => h.close(),
      () => undefined,
    )
    throw e
  }

  let counterRefresh: Promise<void> | undefined
  const refreshCounters = (): Promise<void> =>
    (counterRefresh ??= (async () => {
      try {
        await Promise.all(
          [...services.values()].map(async r => {
            if (r.dp) r.counters = await r.dp.counters()
          }),
        )
      } finally {
        counterRefresh = undefined
      }
    })())

  // Status (status-view.ts)
  const status = (): StatusSnapshot => {
    // A control request can land between a table change and its queued
    // recompute: apply it now so a node never shows `timeout` and eligible.
    recompute()
    return statusView(state, {
      reportsListen: formatHostPort(reports.address),
      workers: workerCount,
    })
  }
  const snapshot = async (): Promise<StatusSnapshot> => {
    await refreshCounters()
    return status()
  }

  // Control commands (control-commands.ts, PROTOCOL.md)
  const commands = controlCommands(state, { log, snapshot, recompute, push })

  // Reload ---------------------------------------------------------------
  // All or nothing (README "Reload"): every step that can fail runs before
  // anything running is taken down, and is undone if a later one fails; the
  // error then reaches the kit, which logs the reload as rejected. A service
  // whose address stays keeps its listener (reconfigured in place).
  const reload = async (next: TmConfig): Promise<void> => {
    // An unavailable data plane refuses the whole reload before any change.
    const f = await factories(next)
    // An inherited socket is never closed by a reload: this process could
    // not get it back (the service manager passes it only at start).
    for (const r of services.values()) {
      const from = inheritedFor(r.cfg)
      if (!from) continue
      const s = next.services.find(x => x.name === r.cfg.name)
      if (!s || inheritedFor(s)?.fd !== from.fd) {
        throw tmError(
          'TM_ERR_INHERITED',
          r.cfg.name,
          `fd ${from.fd}, ${from.name}`,
        )
      }
    }
    const factoryOf = (s: ServiceConfig): DataPlaneFactory =>
      f.get(s.dataplane) as DataPlaneFactory
    const undo: (() => Promise<unknown>)[] = []
    const commit: (() => Promise<unknown>)[] = []
    try {
      if (next.listen !== config.listen || next.port !== config.port) {
        const old = reports
        const fresh = await startReportServer(
          next.listen,
          next.port,
          onDatagram,
        )
        reports = fresh
        undo.push(async () => {
          reports = old
          await fresh.close()
        })
        commit.push(() => old.close())
      }
      const wanted = new Map(next.services.map(s => [s.name, s]))
      const before = new Map(services)
      // New addresses first: a port held by another process fails here,
      // with nothing running touched yet.
      for (const s of next.services) {
        if (before.has(s.name)) continue
        const r = await startService(s, factoryOf(s))
        undo.push(() => stopService(r))
      }
      for (const r of before.values()) {
        const s = wanted.get(r.cfg.name)
        const old = r.cfg
        if (!s) {
          commit.push(() => {
            log.info(
              { service: old.name },
              'virtual service removed; its open connections finish',
            )
            return stopService(r)
          })
        } else if (sameService(old, s)) {
          r.cfg = s
          undo.push(async () => void (r.cfg = old))
        } else if (r.dp?.reconfigure && old.dataplane === s.dataplane) {
          await r.dp.reconfigure(optionsFor(s))
          r.cfg = s
          const dp = r.dp
          undo.push(async () => {
            r.cfg = old
            await dp.reconfigure?.(optionsFor(old))
          })
          log.info(
            { service: s.name, scheduler: s.scheduler },
            'virtual service reconfigured; listener kept',
          )
        } else if (old.dataplane !== s.dataplane) {
          // Another data plane: start it beside the old one (they do not
          // share a socket), then let the old one drain.
          const fresh = await startService(s, factoryOf(s))
          undo.push(async () => {
            services.set(old.name, r)
            await stopService(fresh)
          })
          commit.push(() => stopService(r))
        } else {
          // Same data plane without in-place changes (kernel rules named
          // after the service): replace it, and put it back on failure.
          await stopService(r)
          try {
            const fresh = await startService(s, factoryOf(s))
            undo.push(async () => {
              await stopService(fresh)
              await startService(old, factoryOf(old))
            })
          } catch (e) {
            await startService(old, factoryOf(old)).catch((err: unknown) =>
              log.error(
                { err, service: old.name },
                'could not restore the previous virtual service',
              ),
            )
            throw e
          }
        }
      }
    } catch (e) {
      for (const u of undo.reverse()) {
        await u().catch((err: unknown) =>
          log.error({ err }, 'reload rollback step failed'),
        )
      }
      throw e
    }
    // Committed: nothing below can fail the reload (an ErrorLog that
    // cannot be opened keeps the old file and says so).
    if (opts.errorLog) openErrorLog(opts.errorLog, next.errorLog, log)
    for (const c of commit)
      void c().catch((err: unknown) =>
        log.error({ err }, 'closing a replaced listener failed'),
      )
    table.reconfigure({
      nodes: next.nodes,
      key: next.key,
      timeoutMs: next.timeoutMs,
      sources: sourcesOf(next),
      autojoin: autojoinOf(next),
    })
    for (const [name, m] of overrides) {
      const s = next.services.find(x => x.name === name)
      if (!s) overrides.delete(name)
      else
        for (const n of m.keys())
          if (!nodesOf(s).some(x => x.address === n)) m.delete(n)
    }
    if (next.workers !== config.workers)
      log.warn('workers changes need a restart; keeping the running pool')
    const wasOpen = config.key === undefined && !isLoopback(config.listen)
    config = next
    if (!wasOpen) warnIfOpen(log, config)
    if (expiryTimer) {
      expiryTimer.cancel()
      expiryTimer = undefined
    }
    scheduleExpiry()
    queueRecompute()
  }

  const close = async (): Promise<void> => {
    expiryTimer?.cancel()
    dropLog.flush()
    // Listeners first, so no new connection arrives while reports stop.
    // Kernel tables stay for the next instance (detach): a restart must not
    // reset the flows they translate.
    const draining = Promise.all(
      [...services.values()].map(r => r.dp?.detach?.() ?? stopService(r)),
    )
    await reports.close()
    await draining
    await host?.close()
  }

  for (const i of inherited) {
    if (!config.services.some(s => inheritedFor(s) === i)) {
      log.warn(
        {
          fd: i.fd,
          name: i.name,
          address: formatHostPort({ host: i.address, port: i.port }),
        },
        'inherited socket matches no proxy virtual service: connections to it wait unanswered; fix the socket unit or the config',
      )
    }
  }
  log.info(
    {
      reports: formatHostPort(reports.address),
      services: services.size,
      workers: workerCount,
    },
    'traffic-manager ready',
  )
  return {
    registry,
    commands,
    table,
    get reportAddress() {
      return reports.address
    },
    snapshot,
    status,
    reload,
    close,
  }
}

const isLocalAddress = hostAddresses()

function isLoopback(a: string): boolean {
  return a === '::1' || a.startsWith('127.')
}

/** Issue 19.3: a keyless daemon reachable from the network is steerable by anyone. */
function warnIfOpen(log: Logger, c: TmConfig): void {
  if (c.key !== undefined || isLoopback(c.listen)) return
  log.warn(
    { listen: c.listen, port: c.port },
    'no report key: anyone who can send UDP to this address can steer traffic; set key-file (and the same key on every traffic-client)',
  )
}

/** `autojoin` ranges (`<address>/<prefix>`, validated by the config parser). */
function cidrList(cidrs: readonly string[]): BlockList {
  const b = new BlockList()
  for (const c of cidrs) {
    const [net = '', len = ''] = c.split('/')
    b.addSubnet(net, Number(len), isIPv4(net) ? 'ipv4' : 'ipv6')
  }
  return b
}

function inList(b: BlockList, address: string): boolean {
  try {
    return b.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
  } catch {
    return false
  }
}
