// The daemon's core: load reports in, live table, per-service backend sets
// out to the data planes, and the control commands. createTrafficManager is
// the library entry; the CLI wraps it in the kit's runDaemon.

import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import {
  Counter,
  Gauge,
  Registry,
  formatHostPort,
  parseIntRange,
  type ControlHandlers,
  type Logger,
  type Service,
} from '@has/daemon-kit'
import type { TmConfig, ServiceConfig } from './config.js'
import type { DataPlane, DataPlaneFactory, BackendCounters } from './data-plane.js'
import { LiveTable, DROP_REASONS, type NodeEntry } from './live-table.js'
import { planBackends, type PlannedBackend } from './plan.js'
import { startReportServer, type ReportServer } from './report-server.js'
import { loadDataPlaneFactory } from './data-plane-registry.js'
import { isPersistenceCapable } from './proxy-data-plane.js'
import { InProcessHost, type ProxyHost } from './proxy-host.js'
import { ClusterHost } from './proxy-cluster.js'
import { Balancer } from './balancer.js'
import { MAX_WEIGHT } from './weights.js'
import { tmError } from './errors.js'

export interface TrafficManagerOptions {
  readonly config: TmConfig
  readonly logger: Logger
  /** Clock for report ages and timeouts (tests inject one). */
  readonly now?: () => number
  /** Extra or replacement data planes: kind → factory. */
  readonly dataPlanes?: Readonly<Record<string, DataPlaneFactory>>
  /** Log level handed to proxy worker processes. */
  readonly logLevel?: string
}

export interface ServiceNodeStatus {
  address: string
  port: number
  role: NodeEntry['role']
  state: string
  load: number
  weight: number
  weightSource: 'auto' | 'manual'
  eligible: boolean
  active: number
  total: number
  bytesIn: number
  bytesOut: number
  /** Packets matched, where the data plane counts them (nftables); else omitted. */
  packets?: number
  lastReportAgeMs: number | null
}

export interface ServiceStatus {
  name: string
  scheduler: string
  dataplane: string
  persistentMs: number
  running: boolean
  nodes: ServiceNodeStatus[]
}

export interface StatusSnapshot {
  reports: { listen: string; accepted: number; dropped: Record<string, number>; keyed: boolean }
  timeoutMs: number
  workers: number
  masters: readonly string[]
  nodes: { address: string; role: string; label: string; state: string; load: number; sender: string | null; lastReportAgeMs: number | null }[]
  services: ServiceStatus[]
}

export interface TrafficManager extends Service<TmConfig> {
  readonly registry: Registry
  readonly commands: ControlHandlers
  /** Where reports are received (port 0 in the config picks one). */
  readonly reportAddress: { host: string; port: number }
  /** Status with fresh counters from the data planes. */
  snapshot(): Promise<StatusSnapshot>
  /** The live table (read-only use). */
  readonly table: LiveTable
}

interface Running {
  cfg: ServiceConfig
  dp?: DataPlane
  plan: PlannedBackend[]
  pushed: string
  counters: ReadonlyMap<string, BackendCounters>
}

export async function createTrafficManager(opts: TrafficManagerOptions): Promise<TrafficManager> {
  const log = opts.logger
  const now = opts.now ?? Date.now
  let config = opts.config
  const table = new LiveTable({ nodes: config.nodes, key: config.key, timeoutMs: config.timeoutMs, now })
  const services = new Map<string, Running>()
  const overrides = new Map<string, Map<string, number>>()
  const workerCount = config.workers === 'auto' ? availableParallelism() : config.workers
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
            })
      return host
    })())

  // Metrics ------------------------------------------------------------
  const registry = new Registry()
  const accepted = new Counter({ name: 'tm_reports_accepted_total', help: 'Load reports accepted', registers: [registry] })
  const dropped = new Counter({
    name: 'tm_reports_dropped_total',
    help: 'Load reports dropped, by reason (error code)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  for (const r of DROP_REASONS) dropped.inc({ reason: r }, 0)
  new Gauge({
    name: 'tm_node_up',
    help: '1 while the node reports up or drain within timeout',
    labelNames: ['node'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const e of table.entries()) this.set({ node: e.address }, e.status === 'up' || e.status === 'drain' ? 1 : 0)
    },
  })
  new Gauge({
    name: 'tm_node_load_index',
    help: 'Last reported load index',
    labelNames: ['node'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const e of table.entries()) this.set({ node: e.address }, e.load)
    },
  })
  const perBackend = (name: string, help: string, pick: (r: Running, b: string) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['service', 'node'] as const,
      registers: [registry],
      async collect() {
        await refreshCounters()
        this.reset()
        for (const r of services.values()) {
          for (const n of r.cfg.nodes) this.set({ service: r.cfg.name, node: n.address }, pick(r, n.address))
        }
      },
    })
  }
  perBackend('tm_backend_weight', 'Current scheduler weight (0 = quiesced or out)', (r, b) => r.plan.find(p => p.id === b)?.weight ?? 0)
  perBackend('tm_backend_active_connections', 'Connections open now', (r, b) => r.counters.get(b)?.active ?? 0)
  perBackend('tm_backend_connections_total', 'Connections since start (monotonic)', (r, b) => r.counters.get(b)?.total ?? 0)

  // Reports ------------------------------------------------------------
  let expiryTimer: NodeJS.Timeout | undefined
  let recomputeQueued = false
  const scheduleExpiry = (): void => {
    if (expiryTimer) return
    const at = table.nextExpiry()
    if (at === undefined) return
    expiryTimer = setTimeout(() => {
      expiryTimer = undefined
      const gone = table.expire()
      for (const node of gone) log.warn({ node, timeoutMs: table.timeoutMs }, 'node silent past timeout; removed')
      if (gone.length) queueRecompute()
      scheduleExpiry()
    }, Math.max(0, at - now()))
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
    r.plan = planBackends(r.cfg, a => table.get(a), overrides.get(r.cfg.name))
    const key = JSON.stringify(r.plan.map(p => [p.id, p.weight, p.port]))
    if (!r.dp || key === r.pushed) return
    r.pushed = key
    r.dp.update(r.plan).catch((err: unknown) => log.error({ err, service: r.cfg.name }, 'data plane update failed'))
  }
  const onDatagram = (msg: Buffer, from: { address: string; port: number }): void => {
    const res = table.receive(msg)
    if (!res.accepted) {
      dropped.inc({ reason: res.reason })
      log.debug({ reason: res.reason, detail: res.detail, from: from.address }, 'report dropped')
      return
    }
    accepted.inc()
    if (res.statusChanged) {
      const e = table.get(res.node)
      log.info({ node: res.node, state: e?.status, load: e?.load, sender: e?.sender }, 'node state changed')
    }
    if (res.changed) queueRecompute()
    scheduleExpiry()
  }
  let reports: ReportServer = await startReportServer(config.listen, config.port, onDatagram)

  // Services -----------------------------------------------------------
  const optionsFor = (s: ServiceConfig): Record<string, string> => ({
    ...s.options,
    scheduler: s.scheduler,
    'persistent-ms': String(s.persistentMs),
    'connect-timeout-ms': String(s.connectTimeoutMs),
    'idle-timeout-ms': String(s.idleTimeoutMs),
  })
  const sameService = (a: ServiceConfig, b: ServiceConfig): boolean =>
    a.dataplane === b.dataplane && JSON.stringify(optionsFor(a)) === JSON.stringify(optionsFor(b))
  const startService = async (s: ServiceConfig, factory: DataPlaneFactory): Promise<void> => {
    const r: Running = { cfg: s, plan: [], pushed: '', counters: new Map() }
    services.set(s.name, r)
    try {
      r.dp = await factory(
        { name: s.name, address: s.address, port: s.port, family: s.family },
        {
          logger: log.child({ service: s.name }),
          pick: pickFor(r),
        },
        optionsFor(s),
      )
      const bound = (r.dp as { address?: unknown }).address
      log.info(
        { service: s.name, dataplane: s.dataplane, scheduler: s.scheduler, ...(typeof bound === 'string' ? { listening: bound } : {}) },
        'virtual service up',
      )
      push(r)
    } catch (err) {
      log.error({ err, service: s.name }, 'virtual service failed to start')
      throw err
    }
  }
  // For data planes without their own scheduler: the control plane picks
  // with the counts it last read.
  const pickFor = (r: Running) => {
    let b: Balancer | undefined
    let seen = ''
    return (client: string, exclude: ReadonlySet<string>) => {
      if (!b || seen !== r.pushed) {
        b = new Balancer({ scheduler: r.cfg.scheduler, persistentMs: 0 })
        b.update(r.plan)
        seen = r.pushed
      }
      const slot = b.acquire(client, exclude)
      if (slot) b.abandon(slot)
      return r.plan.find(p => p.id === slot?.id)
    }
  }
  const factories = async (cfg: TmConfig): Promise<Map<string, DataPlaneFactory>> => {
    const out = new Map<string, DataPlaneFactory>()
    for (const s of cfg.services) {
      if (out.has(s.dataplane)) continue
      out.set(s.dataplane, await loadDataPlaneFactory(s.dataplane, { proxyHost, ...(opts.dataPlanes ? { extra: opts.dataPlanes } : {}) }))
    }
    return out
  }
  const stopService = (r: Running): Promise<void> => {
    services.delete(r.cfg.name)
    return r.dp?.close() ?? Promise.resolve()
  }
  try {
    const f = await factories(config)
    for (const s of config.services) await startService(s, f.get(s.dataplane) as DataPlaneFactory)
  } catch (e) {
    await Promise.allSettled([...services.values()].map(stopService))
    await reports.close()
    await host?.close()
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

  // Status -------------------------------------------------------------
  const status = (): StatusSnapshot => {
    // A control request can land between a table change and its queued
    // recompute: apply it now so a node never shows `timeout` and eligible.
    recompute()
    return view()
  }
  const view = (): StatusSnapshot => ({
    reports: {
      listen: formatHostPort(reports.address),
      accepted: table.accepted,
      dropped: { ...table.drops },
      keyed: config.key !== undefined,
    },
    timeoutMs: config.timeoutMs,
    workers: workerCount,
    masters: config.masters,
    nodes: [...table.entries()].map(e => ({
      address: e.address,
      role: e.role,
      label: e.label,
      state: e.status,
      load: e.load,
      sender: e.sender ?? null,
      lastReportAgeMs: table.ageMs(e),
    })),
    services: [...services.values()].map(r => ({
      name: r.cfg.name,
      scheduler: r.cfg.scheduler,
      dataplane: r.cfg.dataplane,
      persistentMs: r.cfg.persistentMs,
      running: r.dp !== undefined,
      nodes: r.cfg.nodes.map(n => {
        const e = table.get(n.address)
        const p = r.plan.find(b => b.id === n.address)
        const c = r.counters.get(n.address)
        return {
          address: n.address,
          port: n.port,
          role: e?.role ?? 'active',
          state: e?.status ?? 'unknown',
          load: e?.load ?? 0,
          weight: p?.weight ?? 0,
          weightSource: overrides.get(r.cfg.name)?.has(n.address) ? 'manual' : 'auto',
          eligible: p !== undefined && p.weight > 0,
          active: c?.active ?? 0,
          total: c?.total ?? 0,
          bytesIn: c?.bytesIn ?? 0,
          bytesOut: c?.bytesOut ?? 0,
          ...(c?.packets !== undefined ? { packets: c.packets } : {}),
          lastReportAgeMs: e ? table.ageMs(e) : null,
        }
      }),
    })),
  })
  const snapshot = async (): Promise<StatusSnapshot> => {
    await refreshCounters()
    return status()
  }

  // Control commands (PROTOCOL.md) ---------------------------------------
  const serviceArg = (name: string | undefined): Running => {
    const r = name === undefined ? undefined : services.get(name)
    if (!r) throw tmError('TM_ERR_UNKNOWN_SERVICE', name ?? '')
    return r
  }
  const commands: ControlHandlers = {
    status: () => snapshot(),
    weight: args => {
      if (args.length !== 3) throw tmError('TM_ERR_BAD_ARGUMENT', 'usage: weight <service> <node> <0..256|auto>')
      const [name, node = '', value = ''] = args
      const r = serviceArg(name)
      if (!r.cfg.nodes.some(n => n.address === node)) throw tmError('TM_ERR_UNKNOWN_NODE', node, r.cfg.name)
      let m = overrides.get(r.cfg.name)
      if (value === 'auto') m?.delete(node)
      else {
        const w = parseIntRange(value, 0, MAX_WEIGHT)
        if (w === undefined) throw tmError('TM_ERR_BAD_ARGUMENT', `weight "${value}": expected 0..${MAX_WEIGHT} or auto`)
        if (!m) overrides.set(r.cfg.name, (m = new Map()))
        m.set(node, w)
      }
      log.info({ service: r.cfg.name, node, weight: value }, 'weight override')
      push(r)
      const p = r.plan.find(b => b.id === node)
      return { service: r.cfg.name, node, weight: p?.weight ?? 0, source: value === 'auto' ? 'auto' : 'manual' }
    },
    'persist-list': args => {
      if (args.length > 1) throw tmError('TM_ERR_BAD_ARGUMENT', 'usage: persist-list [service]')
      const list = args.length ? [serviceArg(args[0])] : [...services.values()]
      const t = Date.now()
      const out: { service: string; client: string; node: string; expiresInMs: number }[] = []
      for (const r of list) {
        if (!r.dp || !isPersistenceCapable(r.dp)) {
          if (args.length) throw tmError('TM_ERR_NOT_SUPPORTED', `data plane ${r.cfg.dataplane} keeps no affinity table`)
          continue
        }
        for (const e of r.dp.persistList()) {
          out.push({ service: r.cfg.name, client: e.client, node: e.node, expiresInMs: Math.max(0, e.expiresAt - t) })
        }
      }
      return out
    },
    'persist-set': args => {
      if (args.length !== 4) throw tmError('TM_ERR_BAD_ARGUMENT', 'usage: persist-set <service> <client-ip> <node> <ttl-seconds>')
      const [name, client = '', node = '', ttl = ''] = args
      const r = serviceArg(name)
      if (isIP(client) === 0) throw tmError('TM_ERR_BAD_ARGUMENT', `client "${client}" is not an IP address`)
      if (!r.cfg.nodes.some(n => n.address === node)) throw tmError('TM_ERR_UNKNOWN_NODE', node, r.cfg.name)
      const secs = parseIntRange(ttl, 0, 86_400)
      if (secs === undefined) throw tmError('TM_ERR_BAD_ARGUMENT', `ttl "${ttl}": expected 0..86400 seconds`)
      if (!r.dp || !isPersistenceCapable(r.dp)) throw tmError('TM_ERR_NOT_SUPPORTED', `data plane ${r.cfg.dataplane} keeps no affinity table`)
      r.dp.persistSet({ client, node, expiresAt: Date.now() + secs * 1000 })
      return { service: r.cfg.name, client, node, expiresInMs: secs * 1000 }
    },
  }

  // Reload ---------------------------------------------------------------
  const reload = async (next: TmConfig): Promise<void> => {
    // Resolve every data plane first: an unavailable one refuses the whole
    // reload before anything changes.
    const f = await factories(next)
    if (next.listen !== config.listen || next.port !== config.port) {
      const fresh = await startReportServer(next.listen, next.port, onDatagram)
      await reports.close()
      reports = fresh
    }
    if (next.workers !== config.workers) log.warn('workers changes need a restart; keeping the running pool')
    table.reconfigure({ nodes: next.nodes, key: next.key, timeoutMs: next.timeoutMs })
    const wanted = new Map(next.services.map(s => [s.name, s]))
    for (const r of [...services.values()]) {
      const s = wanted.get(r.cfg.name)
      if (!s || !sameService(r.cfg, s)) {
        log.info({ service: r.cfg.name }, 'virtual service removed or changed; draining it')
        void stopService(r).catch((err: unknown) => log.error({ err }, 'drain failed'))
      } else r.cfg = s
    }
    for (const [name, m] of overrides) {
      const s = wanted.get(name)
      if (!s) overrides.delete(name)
      else for (const n of m.keys()) if (!s.nodes.some(x => x.address === n)) m.delete(n)
    }
    config = next
    for (const s of next.services) {
      if (!services.has(s.name)) {
        await startService(s, f.get(s.dataplane) as DataPlaneFactory).catch(() => services.delete(s.name))
      }
    }
    if (expiryTimer) {
      clearTimeout(expiryTimer)
      expiryTimer = undefined
    }
    scheduleExpiry()
    queueRecompute()
  }

  const close = async (): Promise<void> => {
    clearTimeout(expiryTimer)
    // Listeners first, so no new connection arrives while reports stop.
    const draining = Promise.all([...services.values()].map(stopService))
    await reports.close()
    await draining
    await host?.close()
  }

  log.info({ reports: formatHostPort(reports.address), services: services.size, workers: workerCount }, 'traffic-manager ready')
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
