// The lifecycle every daemon shares: load and validate the config, start
// the service, then react to signals. HUP (and chokidar, when autoreload is
// on) reloads: the new file is validated first and swapped in only when it
// is good, so a bad edit never takes a running daemon down. TERM/INT stop
// gracefully with a deadline; a second TERM forces. USR1 logs a state dump.
// prom-client and chokidar are loaded only once the service has started
// (and chokidar only when there are paths to watch): a daemon serves
// without paying for either first (issue 18.12).

import type { FSWatcher } from 'chokidar'
import type { Registry } from 'prom-client'
import { hasCode, EXIT } from './errors.js'
import { ConfigError } from './config-source.js'
import {
  startControlServer,
  type ControlHandlers,
  type ControlServer,
} from './control.js'
import { startMetricsServer, type MetricsServer } from './metrics-server.js'
import type { Logger } from './logger.js'

export interface Service<C, S = unknown> {
  /** Apply a validated config; throw to keep the old one. */
  reload(config: C): Promise<void> | void
  /** Stop gracefully: stop accepting, drain, release resources. */
  close(): Promise<void>
  /** A JSON-able snapshot for `status`, /status and USR1. */
  status(): S
  /** Daemon-specific control commands (documented in its PROTOCOL.md). */
  readonly commands?: ControlHandlers
  /** Metrics of the service; the kit adds its own to it. */
  readonly registry?: Registry
}

export interface DaemonOptions<C, S = unknown> {
  readonly name: string
  readonly version?: string
  readonly logger: Logger
  /** Reads and validates; throws ConfigError (or any coded error). */
  load(): Promise<C>
  start(config: C): Promise<Service<C, S>>
  /** Files to watch for autoreload; empty or absent: no watching. */
  readonly watchPaths?: readonly string[]
  /** Control socket address (path or host:port); false: none. */
  readonly controlAddress?: string | false
  /** `host:port` for /metrics; absent: no listener. */
  readonly metricsListen?: string
  /** Allow a non-loopback TCP control address (default: refused). */
  readonly allowRemoteControl?: boolean
  /** Allow a non-loopback /metrics address (default: refused). */
  readonly allowRemoteMetrics?: boolean
  /** Graceful stop budget before forcing (ms). Default 10000. */
  readonly shutdownDeadlineMs?: number
  /** Install process signal handlers (default true; tests say false). */
  readonly handleSignals?: boolean
}

export interface DaemonHandle<C, S = unknown> {
  readonly service: Service<C, S>
  readonly config: C
  readonly control?: ControlServer
  readonly metrics?: MetricsServer
  /** Re-reads and applies the config; false when it was refused. */
  reload(): Promise<boolean>
  /** Graceful stop; resolves to the exit status. */
  stop(reason?: string): Promise<number>
  /** Resolves with the exit status once the daemon has stopped. */
  readonly done: Promise<number>
}

export async function runDaemon<C, S = unknown>(
  opts: DaemonOptions<C, S>,
): Promise<DaemonHandle<C, S>> {
  const log = opts.logger
  let config = await opts.load()
  const service = await opts.start(config)
  const { Counter, Gauge, Registry } = await import('prom-client').catch(
    async (e: unknown) => {
      await service.close()
      throw e
    },
  )
  const registry: Registry = service.registry ?? new Registry()
  const reloads = new Counter({
    name: 'has_config_reloads_total',
    help: 'Config reloads by result (applied or rejected)',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  new Gauge({
    name: 'has_build_info',
    help: 'Always 1; labels name the daemon and its version',
    labelNames: ['daemon', 'version'] as const,
    registers: [registry],
  }).set({ daemon: opts.name, version: opts.version ?? 'unknown' }, 1)

  let reloading: Promise<boolean> | null = null
  const reload = (): Promise<boolean> => {
    // Coalesce bursts (editor saves, repeated HUP) into one reload at a time.
    reloading ??= (async () => {
      try {
        const next = await opts.load()
        await service.reload(next)
        config = next
        reloads.inc({ result: 'applied' })
        log.info('configuration reloaded')
        return true
      } catch (err) {
        reloads.inc({ result: 'rejected' })
        const issues = err instanceof ConfigError ? err.issues : undefined
        log.error(
          { err, issues, code: hasCode(err) ? err.code : undefined },
          'reload rejected; keeping the last good configuration',
        )
        return false
      } finally {
        reloading = null
      }
    })()
    return reloading
  }

  const handlers: ControlHandlers = {
    status: () => service.status(),
    reload: async () => ({ applied: await reload() }),
    version: () => ({ daemon: opts.name, version: opts.version }),
    ...service.commands,
  }

  let control: ControlServer | undefined
  let metrics: MetricsServer | undefined
  let watcher: FSWatcher | undefined
  try {
    if (opts.controlAddress) {
      control = await startControlServer({
        address: opts.controlAddress,
        handlers,
        logger: log,
        ...(opts.allowRemoteControl ? { allowRemote: true } : {}),
      })
    }
    if (opts.metricsListen) {
      metrics = await startMetricsServer({
        listen: opts.metricsListen,
        registry,
        status: () => service.status(),
        logger: log,
        ...(opts.allowRemoteMetrics ? { allowRemote: true } : {}),
      })
    }
    if (opts.watchPaths?.length) {
      let timer: NodeJS.Timeout | undefined
      const { watch } = await import('chokidar')
      watcher = watch([...opts.watchPaths], {
        ignoreInitial: true,
        atomic: true,
        persistent: false,
      })
      watcher.on('all', () => {
        clearTimeout(timer)
        timer = setTimeout(() => void reload(), 200)
      })
    }
  } catch (e) {
    await metrics?.close()
    await control?.close()
    await service.close()
    throw e
  }

  let resolveDone!: (code: number) => void
  const done = new Promise<number>(r => (resolveDone = r))
  let stopping: Promise<number> | null = null
  const stop = (reason = 'stop requested'): Promise<number> => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down')
      detachSignals()
      const deadline = opts.shutdownDeadlineMs ?? 10_000
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<'timeout'>(r => {
        timer = setTimeout(() => r('timeout'), deadline)
      })
      let code: number = EXIT.OK
      try {
        const r = await Promise.race([
          service.close().then(() => 'ok' as const),
          timedOut,
        ])
        if (r === 'timeout') {
          log.warn(
            { deadlineMs: deadline },
            'graceful stop deadline passed; forcing',
          )
          code = EXIT.RUNTIME
        }
      } catch (err) {
        log.error({ err }, 'error while stopping')
        code = EXIT.RUNTIME
      } finally {
        clearTimeout(timer)
      }
      await watcher?.close()
      await control?.close()
      await metrics?.close()
      log.info({ code }, 'stopped')
      resolveDone(code)
      return code
    })()
    return stopping
  }

  const onHup = (): void => void reload()
  const onTerm = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal: sig }, 'second stop signal; exiting now')
      resolveDone(EXIT.RUNTIME)
      return
    }
    void stop(`signal ${sig}`)
  }
  const onUsr1 = (): void => log.info({ state: service.status() }, 'state dump')
  const detachSignals = (): void => {
    if (opts.handleSignals === false) return
    process.off('SIGHUP', onHup)
    process.off('SIGUSR1', onUsr1)
    // TERM/INT stay attached so a second one can force the exit.
  }
  if (opts.handleSignals !== false) {
    process.on('SIGHUP', onHup)
    process.on('SIGTERM', onTerm)
    process.on('SIGINT', onTerm)
    process.on('SIGUSR1', onUsr1)
    void done.then(() => {
      process.off('SIGTERM', onTerm)
      process.off('SIGINT', onTerm)
    })
  }
  log.info(
    {
      version: opts.version,
      control: control?.address,
      metrics: metrics?.address,
    },
    'started',
  )
  return {
    service,
    get config() {
      return config
    },
    ...(control ? { control } : {}),
    ...(metrics ? { metrics } : {}),
    reload,
    stop,
    done,
  }
}
