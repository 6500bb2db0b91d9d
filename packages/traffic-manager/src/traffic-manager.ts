// The daemon's core, composed from its parts: membership (live table and
// autojoin), report intake, the running services, metrics, status view,
// control commands and reload. createTrafficManager is the library entry;
// the CLI wraps it in the kit's runDaemon. Start order (issue 18.12): the
// report socket and the services first; what only observes them (metrics,
// and in runDaemon the control socket and /metrics) once they serve.

import { availableParallelism } from 'node:os'
import {
  formatHostPort,
  type ControlHandlers,
  type ErrorLogStream,
  systemClock,
  type Clock,
  type Logger,
  type Service,
} from '@has/daemon-kit/core'
import type { Registry } from '@has/daemon-kit/metrics'
import type { TmConfig } from './config.js'
import type { DataPlaneFactory } from './data-plane.js'
import type { LiveTable } from './live-table.js'
import { startReportServer, type ReportServer } from './report-server.js'
import { openErrorLog } from './logging.js'
import type { InheritedSocket } from './socket-activation.js'
import type { ManagerState } from './manager-state.js'
import { statusView, type StatusSnapshot } from './status-view.js'
import { controlCommands } from './control-commands.js'
import { Membership } from './membership.js'
import { ReportIntake } from './report-intake.js'
import { ServiceSet } from './service-set.js'
import { Transaction, checkInherited, reloadServices } from './reload.js'
import { chooseRelay } from './proxy-service.js'

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
  let config = opts.config
  const membership = new Membership(config, () => clock.now())
  const workers =
    config.workers === 'auto' ? availableParallelism() : config.workers
  const set = new ServiceSet({
    log,
    membership,
    config: () => config,
    workers,
    inherited: opts.inherited ?? [],
    logLevel: opts.logLevel,
    dataPlanes: opts.dataPlanes,
  })
  const state: ManagerState = {
    table: membership.table,
    services: set.services,
    overrides: set.overrides,
    config: () => config,
    nodesOf: s => membership.nodesOf(s),
    refreshCounters: () => set.refreshCounters(),
  }
  const intake = new ReportIntake({
    membership,
    clock,
    log,
    onChange: () => set.queueRecompute(),
  })
  let reports: ReportServer = await startReportServer(
    config.listen,
    config.port,
    intake.receive,
  )
  warnIfOpen(log, config)
  let registry: Registry
  try {
    await set.startAll(config)
    registry = (await import('./manager-metrics.js')).createManagerMetrics(
      state,
    )
  } catch (e) {
    intake.close()
    await set.stopAll()
    await reports.close()
    await set.closeHost()
    throw e
  }

  const status = (): StatusSnapshot => {
    // A control request can land between a table change and its queued
    // recompute: apply it now so a node never shows `timeout` and eligible.
    set.recompute()
    return statusView(state, {
      reportsListen: formatHostPort(reports.address),
      workers,
    })
  }
  const snapshot = async (): Promise<StatusSnapshot> => {
    await set.refreshCounters()
    return status()
  }
  const commands = controlCommands(state, {
    log,
    snapshot,
    recompute: () => set.recompute(),
    push: r => set.push(r),
  })

  const reload = async (next: TmConfig): Promise<void> => {
    // An unavailable data plane refuses the whole reload before any change.
    const f = await set.factories(next)
    checkInherited(set, next)
    const tx = new Transaction(log)
    try {
      if (next.listen !== config.listen || next.port !== config.port) {
        const old = reports
        const fresh = await startReportServer(
          next.listen,
          next.port,
          intake.receive,
        )
        reports = fresh
        tx.onUndo(async () => {
          reports = old
          await fresh.close()
        })
        tx.onCommit(() => old.close())
      }
      await reloadServices(set, next, f, tx, log)
    } catch (e) {
      await tx.rollback()
      throw e
    }
    // Committed: nothing below can fail the reload (an ErrorLog that
    // cannot be opened keeps the old file and says so).
    if (opts.errorLog) openErrorLog(opts.errorLog, next.errorLog, log)
    tx.commit()
    membership.reconfigure(next)
    set.pruneOverrides(next)
    if (next.workers !== config.workers)
      log.warn('workers changes need a restart; keeping the running pool')
    const wasOpen = config.key === undefined && !isLoopback(config.listen)
    config = next
    if (!wasOpen) warnIfOpen(log, config)
    intake.rearm()
    set.queueRecompute()
  }

  const close = async (): Promise<void> => {
    intake.close()
    // Listeners first, so no new connection arrives while reports stop.
    const draining = set.detachAll()
    await reports.close()
    await draining
    await set.closeHost()
  }

  // Which engine the userspace proxy relays with (its workers choose the
  // same: same Node, same environment).
  const relay = chooseRelay()
  if (relay.badEnv !== undefined)
    log.warn(
      { TM_PROXY_RELAY: relay.badEnv },
      'TM_PROXY_RELAY is neither handles nor streams; ignored',
    )
  if (relay.engine.name === 'streams' && relay.why !== 'asked for')
    log.warn(
      { why: relay.why },
      'proxy relays on net.Socket, not on the faster TCP handles',
    )
  log.info(
    {
      reports: formatHostPort(reports.address),
      services: set.services.size,
      workers,
      proxyRelay: relay.engine.name,
    },
    'traffic-manager ready',
  )
  return {
    registry,
    commands,
    table: membership.table,
    get reportAddress() {
      return reports.address
    },
    snapshot,
    status,
    reload,
    close,
  }
}

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
