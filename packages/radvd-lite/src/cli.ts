// Command line. The flags mirror radvd where they overlap (-C config,
// -c check); the rest (--log-level, --metrics, --control, status) are the
// ones every has daemon has.

import type { RadvdLiteStatus } from './service.js'
import { Command, Option } from 'commander'
import {
  EXIT,
  addControlOption,
  addRemoteListenOptions,
  LOG_LEVELS,
  checkConfig,
  controlRequest,
  createLogger,
  defaultControlPath,
  formatIssue,
  formatTable,
  packageVersion,
  runDaemon,
  runProgram,
  stdio,
  type CliIo,
  type LogLevel,
} from '@has/daemon-kit'

export const NAME = 'radvd-lite'
export const DEFAULT_CONFIG = '/etc/radvd-lite.conf'

interface Flags {
  config: string
  checkConfig?: boolean
  logLevel: LogLevel
  metrics?: string
  control: string
}

interface IfaceStatus {
  name: string
  state: string
  linkLocal: string | null
  prefixes: {
    prefix: string
    valid: number
    preferred: number
    deprecated: boolean
  }[]
  lastRa: { at: string; kind: string } | null
  lastRs: { at: string; src: string } | null
  raSent: number
  rsReceived: number
  rsDropped: { hoplimit: number; malformed: number }
}

/** Renders `status` for humans: one table per concern. */
export function formatStatus(s: { interfaces: IfaceStatus[] }): string {
  const ifaces = formatTable(
    [
      'INTERFACE',
      'STATE',
      'LINK-LOCAL',
      'RA SENT',
      'LAST RA',
      'RS',
      'LAST RS',
      'DROPPED',
    ],
    s.interfaces.map(i => [
      i.name,
      i.state,
      i.linkLocal ?? '-',
      i.raSent,
      i.lastRa ? `${i.lastRa.at} ${i.lastRa.kind}` : '-',
      i.rsReceived,
      i.lastRs ? `${i.lastRs.at} ${i.lastRs.src}` : '-',
      `${i.rsDropped.hoplimit} hop, ${i.rsDropped.malformed} bad`,
    ]),
  )
  const prefixes = formatTable(
    ['INTERFACE', 'PREFIX', 'VALID', 'PREFERRED', 'STATE'],
    s.interfaces.flatMap(i =>
      i.prefixes.map(p => [
        i.name,
        p.prefix,
        p.valid,
        p.preferred,
        p.deprecated ? 'deprecated' : 'advertised',
      ]),
    ),
  )
  return `${ifaces}\n${prefixes}`
}

export function createProgram(io: CliIo, state: { exitCode: number }): Command {
  const program = new Command(NAME)
    .description('IPv6 router advertisement daemon (radvd.conf subset)')
    .enablePositionalOptions()
    .version(packageVersion(import.meta.url), '-v, --version')
    .option(
      '-C, --config <path>',
      'configuration file (radvd.conf syntax)',
      DEFAULT_CONFIG,
    )
    .option(
      '-c, --check-config',
      'validate the configuration and exit (3 if invalid)',
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(LOG_LEVELS)
        .default('info'),
    )
    .option(
      '--metrics <host:port>',
      'serve Prometheus /metrics (and /status) here',
    )
    .option('--control <path>', 'control socket', defaultControlPath(NAME))
    .action(async (flags: Flags) => {
      const { loadConfig } = await import('./config.js')
      if (flags.checkConfig) {
        state.exitCode = await checkConfig(
          async () => {
            const r = await loadConfig(flags.config)
            for (const w of r.warnings) io.err(`warning: ${formatIssue(w)}\n`)
          },
          flags.config,
          io,
        )
        return
      }
      const { createRadvdLite } = await import('./service.js')
      const logger = createLogger({ name: NAME, level: flags.logLevel })
      const load = async () => {
        const r = await loadConfig(flags.config)
        for (const w of r.warnings)
          logger.warn({ issue: formatIssue(w) }, 'configuration warning')
        return r.config
      }
      const d = await runDaemon({
        name: NAME,
        version: packageVersion(import.meta.url),
        logger,
        load,
        start: config => createRadvdLite({ config, logger }),
        controlAddress: flags.control,
        ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
      })
      state.exitCode = await d.done
    })

  const status = program
    .command('status')
    .description('show interfaces, prefixes, last RA sent and RS received')
  addControlOption(status, defaultControlPath(NAME))
    .option('--json', 'print the raw JSON')
    .action(async (o: { control: string; json?: boolean }) => {
      const s = (await controlRequest(o.control, 'status')) as RadvdLiteStatus
      io.out(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s))
      state.exitCode = EXIT.OK
    })
  addRemoteListenOptions(program)
  return program
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK }
  return runProgram(createProgram(io, state), argv, io, state)
}
