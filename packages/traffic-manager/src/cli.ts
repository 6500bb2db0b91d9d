// Command line: run the daemon, or query a running one over its control
// socket (status, weight, persist-list, persist-set). The only commander
// importer; everything else is library code.

import { Command } from 'commander'
import {
  ConfigError,
  EXIT,
  addControlOption,
  addDaemonOptions,
  checkConfig,
  controlRequest,
  defaultControlPath,
  packageVersion,
  readConfigFile,
  runDaemon,
  runProgram,
  stdio,
  type CliIo,
  type DaemonFlags,
} from '@has/daemon-kit/core'
import { loadConfig, parseConfig, type TmConfig } from './config.js'
import { loadDataPlaneFactory } from './data-plane-registry.js'
import {
  createTrafficManager,
  type StatusSnapshot,
  type TrafficManager,
} from './traffic-manager.js'
import { formatStatus } from './status-table.js'
import { createDaemonLogger } from './logging.js'
import { inheritedSockets } from './socket-activation.js'

export const DEFAULT_CONFIG = '/etc/has/tmd.conf'
const NAME = 'traffic-manager'

/** loadConfig plus the checks that need code: is each data plane there? */
export async function loadAndCheck(path: string): Promise<TmConfig> {
  const config = await loadConfig(path)
  const issues: ConstructorParameters<typeof ConfigError>[0][number][] = []
  for (const s of config.services) {
    if (s.dataplane === 'proxy') continue
    try {
      await loadDataPlaneFactory(s.dataplane, {
        proxyHost: () => Promise.reject(new Error('unused')),
      })
    } catch (e) {
      issues.push({
        file: s.at.file,
        line: s.at.line,
        message: (e as Error).message,
        value: s.dataplane,
      })
    }
  }
  if (issues.length) throw new ConfigError(issues)
  return config
}

export function createProgram(
  io: CliIo = stdio,
  state = { exitCode: 0 },
): Command {
  const control = defaultControlPath(NAME)
  const program = new Command(NAME)
    .description(
      'HAS traffic manager: live node table from load reports, and the virtual services that use it',
    )
    .version(packageVersion(import.meta.url), '-V, --version')
    // `status --control x` must reach the subcommand, not the daemon's flag.
    .enablePositionalOptions()
  addDaemonOptions(program, { config: DEFAULT_CONFIG, control })
    .option(
      '--status-page <[host:]port>',
      'serve a read-only HTML status page (a bare port binds 127.0.0.1)',
    )
    .option(
      '--status-page-allow-remote',
      'allow a non-loopback --status-page address (it has no authentication)',
    )
  // `traffic-manager --control X status` puts X on the program, not on the
  // subcommand: honour it instead of silently asking the default socket.
  const controlOf = (sub: Command): string =>
    sub.getOptionValueSource('control') !== 'cli' &&
    program.getOptionValueSource('control') === 'cli'
      ? program.opts<{ control: string }>().control
      : sub.opts<{ control: string }>().control
  program.action(
    async (
      flags: DaemonFlags & {
        statusPage?: string
        statusPageAllowRemote?: boolean
      },
    ) => {
      if (flags.checkConfig) {
        state.exitCode = await checkConfig(
          () => loadAndCheck(flags.config),
          flags.config,
          io,
        )
        return
      }
      // ErrorLog must be known before the logger exists: peek at the file.
      let errorLog: string | undefined
      try {
        errorLog = parseConfig(await readConfigFile(flags.config), flags.config)
          .config?.errorLog
      } catch {
        errorLog = undefined
      }
      const { logger, errorLog: errorLogStream } = createDaemonLogger(
        flags.logLevel,
        errorLog,
      )
      // Sockets systemd (traffic-manager.socket) holds across restarts.
      const inherited = inheritedSockets()
      for (const l of inherited.skipped)
        logger.warn(
          { fd: l.fd, name: l.name },
          'inherited fd is not a listening TCP socket; ignored',
        )
      if (inherited.sockets.length)
        logger.info(
          { sockets: inherited.sockets },
          'listening sockets inherited from the service manager',
        )
      let deadline = 30_000
      // The running service, typed: runDaemon hands back a Service.
      let tm: TrafficManager | undefined
      const d = await runDaemon<TmConfig, StatusSnapshot>({
        name: NAME,
        version: packageVersion(import.meta.url),
        logger,
        load: async () => {
          const c = await loadAndCheck(flags.config)
          deadline = c.shutdownDeadlineMs
          return c
        },
        start: async config =>
          (tm = await createTrafficManager({
            config,
            logger,
            errorLog: errorLogStream,
            logLevel: flags.logLevel,
            inherited: inherited.sockets,
          })),
        controlAddress: flags.control ?? control,
        ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
        get shutdownDeadlineMs() {
          return deadline
        },
      })
      // The status page reads the running service; it stops with the daemon.
      // Loaded only when asked for: the start path does not need it.
      const page = flags.statusPage
        ? await (
            await import('./status-page.js')
          )
            .startStatusPage({
              listen: flags.statusPage,
              allowRemote: flags.statusPageAllowRemote === true,
              snapshot: () =>
                tm ? tm.snapshot() : Promise.reject(new Error('not started')),
              logger,
            })
            .catch(async (e: unknown) => {
              await d.stop('status page failed')
              throw e
            })
        : undefined
      state.exitCode = await d.done
      await page?.close()
    },
  )

  const status = new Command('status')
    .description('print the live table like ipvsadm -L -n (--json for raw)')
    .option('--json', 'print the raw JSON status')
  addControlOption(status, control)
  status.action(async (o: { json?: boolean }) => {
    const s = (await controlRequest(
      controlOf(status),
      'status',
    )) as StatusSnapshot
    io.out(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s))
  })
  program.addCommand(status)

  const passthrough = (
    name: string,
    args: string,
    description: string,
  ): void => {
    const c = new Command(name).description(description).arguments(args)
    addControlOption(c, control)
    c.action(async (...a: unknown[]) => {
      const words = (a.slice(0, -2) as (string | string[] | undefined)[])
        .flat()
        .filter((w): w is string => w !== undefined)
      io.out(
        `${JSON.stringify(await controlRequest(controlOf(c), name, words), null, 2)}\n`,
      )
    })
    program.addCommand(c)
  }
  passthrough(
    'weight',
    '<service> <node> <weight>',
    'override a node weight (0..256) or return it to auto',
  )
  passthrough('persist-list', '[service]', 'list client affinity entries')
  passthrough(
    'persist-set',
    '<service> <client> <node> <ttl>',
    'preload a client affinity entry (ttl in s)',
  )
  return program
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK as number }
  return runProgram(createProgram(io, state), argv, io, state)
}
