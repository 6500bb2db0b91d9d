// The service: one RealMonitor per (virtual, real), the mode's Actions fed
// with every result, metrics and status. createLdirectord() is the library
// entry point; the CLI wraps it in the kit's runDaemon.

import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  controlRequest,
  formatHostPort,
  type Logger,
  type Service,
} from '@has/daemon-kit'
import {
  loadReportKey,
  type LdConfig,
  type RealServer,
  type VirtualService,
} from './config.js'
import { runWithTimeout } from './checks.js'
import {
  DirectorActions,
  HasActions,
  type Actions,
  type ControlSender,
} from './actions.js'
import { checkPersistence } from './persistence-check.js'
import { systemClock, type Clock, type Timer } from '@has/daemon-kit'
import { RealMonitor, type CheckEvent, type CheckRunner } from './monitor.js'
import type { HealthState, RealStatus } from './health.js'
import { Reporter } from './reporter.js'

export interface LdirectordOptions {
  readonly config: LdConfig
  readonly logger: Logger
  readonly clock?: Clock
  /** Replaces the real checks (tests). */
  readonly runCheck?: CheckRunner
  /** Replaces controlRequest for traffic-manager/traffic-client (tests). */
  readonly controlSend?: ControlSender
  readonly registry?: Registry
  /**
   * Epoch of the HAS-mode load reports for this start; the CLI passes
   * daemon-kit senderEpoch(), which never goes backwards. Default: now.
   */
  readonly epoch?: number
}

export interface Ldirectord extends Service<LdConfig> {
  readonly registry: Registry
  status(): LdStatus
}

export interface RealStatusView {
  readonly real: string
  readonly status: RealStatus
  readonly failures: number
  readonly result: 'ok' | 'fail' | null
  readonly reason: string | null
  readonly lastCheck: string | null
  readonly since: string | null
}

export interface LdStatus {
  readonly mode: 'director' | 'has'
  readonly virtuals: readonly {
    readonly name: string
    readonly checktype: string
    readonly service: string
    readonly scheduler: string
    /** Affinity as configured (ms, prefix length): the traffic-manager applies it. */
    readonly persistent?: number
    readonly netmask?: number
    readonly reals: readonly RealStatusView[]
  }[]
  readonly actions: unknown
}

/** Directives a reload cannot change (they shape sockets and peers). */
const RESTART_ONLY = [
  'hasmode',
  'autoreload',
  'trafficmanagers',
  'trafficmanagercontrol',
  'trafficclientcontrol',
  'reportkey',
  'reportkeyfile',
  'nodeaddress',
] as const

const realKey = (v: VirtualService, r: RealServer): string =>
  `${v.name} ${formatHostPort(r)}`
const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString()

export async function createLdirectord(
  opts: LdirectordOptions,
): Promise<Ldirectord> {
  const logger = opts.logger.child({ component: 'ldirectord' })
  const clock = opts.clock ?? systemClock
  const send: ControlSender =
    opts.controlSend ?? ((a, c, args) => controlRequest(a, c, args, 3000))
  const registry = opts.registry ?? new Registry()
  const first = opts.config
  let config = first

  const checks = new Counter({
    name: 'ld_checks_total',
    help: 'Health checks by virtual service, real server and result',
    labelNames: ['virtual', 'real', 'result'] as const,
    registers: [registry],
  })
  const durations = new Histogram({
    name: 'ld_check_duration_seconds',
    help: 'Duration of health checks',
    labelNames: ['virtual', 'real', 'check'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  })
  const up = new Gauge({
    name: 'ld_real_up',
    help: 'Real server health: 1 up, 0 down, -1 not yet known',
    labelNames: ['virtual', 'real'] as const,
    registers: [registry],
  })
  const transitions = new Counter({
    name: 'ld_real_transitions_total',
    help: 'Real server status changes',
    labelNames: ['virtual', 'real', 'to'] as const,
    registers: [registry],
  })
  const actionsTotal = new Counter({
    name: 'ld_actions_total',
    help: 'Commands and reports sent to peers, by action and result',
    labelNames: ['action', 'result'] as const,
    registers: [registry],
  })
  const restarts = new Counter({
    name: 'ld_restarts_total',
    help: 'restartcommand runs by result',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  const onAction = (action: string, ok: boolean): void =>
    actionsTotal.inc({ action, result: ok ? 'ok' : 'error' })

  let actions: Actions
  if (first.hasmode) {
    const key = await loadReportKey(first)
    const node =
      first.nodeaddress ?? first.virtuals[0]?.reals[0]?.host ?? '127.0.0.1'
    const reporter = first.trafficmanagers.length
      ? new Reporter({
          node,
          targets: first.trafficmanagers,
          ...(key !== undefined ? { key } : {}),
          logger,
          epoch: opts.epoch ?? Date.now(),
        })
      : undefined
    actions = new HasActions(first, reporter, send, logger, onAction)
  } else {
    actions = new DirectorActions(
      first.trafficmanagercontrol,
      send,
      logger,
      onAction,
    )
  }
  const comparePersistence = (c: LdConfig): void => {
    if (!c.hasmode && c.trafficmanagercontrol)
      void checkPersistence(c.trafficmanagercontrol, send, c.virtuals, logger)
  }

  const monitors = new Map<string, RealMonitor>()
  const lastRestart = new Map<string, number>()
  const restarting = new Set<string>()

  const view = (): Map<VirtualService, Map<string, RealStatus>> => {
    const out = new Map<VirtualService, Map<string, RealStatus>>()
    for (const v of config.virtuals) {
      const reals = new Map<string, RealStatus>()
      for (const r of v.reals)
        reals.set(
          r.host,
          monitors.get(realKey(v, r))?.state.status ?? 'unknown',
        )
      out.set(v, reals)
    }
    return out
  }

  const maybeRestart = (e: CheckEvent): void => {
    const cmd = e.virtual.restartcommand
    const key = realKey(e.virtual, e.real)
    if (!cmd || e.state.status !== 'down' || restarting.has(key)) return
    const last = lastRestart.get(key)
    const now = clock.now()
    if (!e.changed && last !== undefined && now - last < config.restartinterval)
      return
    lastRestart.set(key, now)
    restarting.add(key)
    logger.warn(
      { virtual: e.virtual.name, real: formatHostPort(e.real), command: cmd },
      'running restartcommand',
    )
    void runWithTimeout(['/bin/sh', '-c', cmd], config.restartinterval, {
      LD_VIRTUAL: e.virtual.name,
      LD_REAL_HOST: e.real.host,
      LD_REAL_PORT: String(e.real.port),
    }).then(r => {
      restarting.delete(key)
      restarts.inc({ result: r.ok ? 'ok' : 'error' })
      if (!r.ok)
        logger.warn({ command: cmd, reason: r.reason }, 'restartcommand failed')
    })
  }

  // Label objects built once per real server: a check then costs no label
  // allocation, and the up gauge is written only when the status changes.
  interface RealLabels {
    readonly base: { virtual: string; real: string }
    readonly ok: { virtual: string; real: string; result: 'ok' }
    readonly fail: { virtual: string; real: string; result: 'fail' }
    readonly kinds: Map<
      string,
      { virtual: string; real: string; check: string }
    >
  }
  const labelsOf = new Map<string, RealLabels>()
  const upValue = (s: RealStatus): number =>
    s === 'up' ? 1 : s === 'down' ? 0 : -1

  // Several reals often change in the same turn (a node with many services
  // fails): the mode's actions get one view of them all, computed once.
  let updatePending = false
  let closed = false
  const scheduleUpdate = (): void => {
    if (updatePending) return
    updatePending = true
    setImmediate(() => {
      updatePending = false
      if (!closed) void actions.update(view())
    })
  }

  const onResult = (e: CheckEvent): void => {
    const key = realKey(e.virtual, e.real)
    const l = labelsOf.get(key)
    if (!l) return // a loop stopped by a reload; its result is stale
    checks.inc(e.result.ok ? l.ok : l.fail)
    let kl = l.kinds.get(e.kind)
    if (!kl) l.kinds.set(e.kind, (kl = { ...l.base, check: e.kind }))
    durations.observe(kl, e.durationMs / 1000)
    if (!e.result.ok && logger.isLevelEnabled('debug')) {
      logger.debug(
        { ...l.base, reason: e.result.reason, failures: e.state.failures },
        'check failed',
      )
    }
    if (e.changed) {
      up.set(l.base, upValue(e.state.status))
      transitions.inc({ ...l.base, to: e.changed })
      if (e.changed === 'down')
        logger.warn(
          { ...l.base, reason: e.result.reason, code: e.result.code },
          'real server down',
        )
      else logger.info(l.base, 'real server up')
      scheduleUpdate()
    }
    maybeRestart(e)
  }

  const startMonitors = (
    cfg: LdConfig,
    carry: Map<string, HealthState>,
  ): void => {
    labelsOf.clear()
    for (const v of cfg.virtuals) {
      for (const r of v.reals) {
        const key = realKey(v, r)
        const initial = carry.get(key)
        const base = { virtual: v.name, real: formatHostPort(r) }
        labelsOf.set(key, {
          base,
          ok: { ...base, result: 'ok' },
          fail: { ...base, result: 'fail' },
          kinds: new Map(),
        })
        const m = new RealMonitor({
          virtual: v,
          real: r,
          ...(cfg.maintenancedir ? { maintenancedir: cfg.maintenancedir } : {}),
          clock,
          ...(opts.runCheck ? { run: opts.runCheck } : {}),
          onResult,
          ...(initial ? { initial } : {}),
        })
        monitors.set(key, m)
        up.set(base, upValue(initial?.status ?? 'unknown'))
        m.start()
      }
    }
  }

  let tickTimer: Timer | undefined
  const tickEvery = (): number =>
    Math.min(...config.virtuals.map(v => v.checkinterval), 60_000)
  const scheduleTick = (): void => {
    if (closed) return
    tickTimer = clock.after(tickEvery(), () => {
      void actions.tick().finally(scheduleTick)
    })
  }

  startMonitors(first, new Map())
  scheduleTick()
  comparePersistence(first)
  logger.info(
    {
      mode: first.hasmode ? 'has' : 'director',
      virtuals: first.virtuals.map(v => v.name),
    },
    'checking real servers',
  )

  const service: Ldirectord = {
    registry,
    reload(next: LdConfig) {
      for (const k of RESTART_ONLY) {
        if (JSON.stringify(next[k]) !== JSON.stringify(config[k])) {
          logger.warn(
            { directive: k },
            'directive changed; it takes effect only after a restart',
          )
        }
      }
      const carry = new Map<string, HealthState>()
      for (const [k, m] of monitors) {
        carry.set(k, m.state)
        m.stop()
      }
      monitors.clear()
      up.reset()
      // Keep the restart-only values of the running config.
      config = {
        ...next,
        ...Object.fromEntries(RESTART_ONLY.map(k => [k, first[k]])),
      } as LdConfig
      startMonitors(config, carry)
      void actions.update(view())
      comparePersistence(config)
    },
    async close() {
      closed = true
      tickTimer?.cancel()
      for (const m of monitors.values()) m.stop()
      await actions.close()
    },
    status(): LdStatus {
      return {
        mode: config.hasmode ? 'has' : 'director',
        virtuals: config.virtuals.map(v => ({
          name: v.name,
          checktype: String(v.checktype),
          service: v.service,
          scheduler: v.scheduler,
          ...(v.persistent !== undefined ? { persistent: v.persistent } : {}),
          ...(v.netmask !== undefined ? { netmask: v.netmask } : {}),
          reals: v.reals.map(r => {
            const s = monitors.get(realKey(v, r))?.state
            return {
              real: formatHostPort(r),
              status: s?.status ?? 'unknown',
              failures: s?.failures ?? 0,
              result: s?.last ? (s.last.ok ? 'ok' : 'fail') : null,
              reason: s?.last?.reason ?? null,
              lastCheck: iso(s?.lastCheckAt),
              since: iso(s?.since),
            }
          }),
        })),
        actions: actions.status(),
      }
    },
  }
  return service
}
