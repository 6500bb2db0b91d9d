// The command line (the only commander importer): `erd [primary secondary]`
// runs the daemon; `erd status` asks a running one over its control socket.

import { Command } from 'commander'
import {
  EXIT,
  addControlOption,
  addDaemonOptions,
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
  type DaemonFlags,
} from '@has/daemon-kit'
import { loadConfig, type ErdConfig } from './config.js'
import type { ErdStatus } from './erd.js'

export const DEFAULT_CONFIG = '/etc/has/erd.conf'

export function createProgram(io: CliIo, state: { exitCode: number }): Command {
  const version = packageVersion(import.meta.url)
  const program = new Command('erd')
    .description(
      'Ethernet redundancy daemon: primary/secondary NIC failover by routes',
    )
    .version(version, '-V, --version')
    .argument(
      '[primary]',
      'primary interface (default eth0, or the config file)',
    )
    .argument(
      '[secondary]',
      'secondary interface (default eth1, or the config file)',
    )
    .showHelpAfterError()
    .enablePositionalOptions()
  addDaemonOptions(program, {
    config: DEFAULT_CONFIG,
    control: defaultControlPath('erd'),
  })
  program.action(
    async (
      primary: string | undefined,
      secondary: string | undefined,
      flags: DaemonFlags,
    ) => {
      if (primary !== undefined && secondary === undefined) {
        io.err('erd: give both interfaces (primary and secondary) or neither\n')
        state.exitCode = EXIT.USAGE
        return
      }
      // The default file may be absent (erd then runs on defaults); a file
      // named with --config must exist.
      const optional = program.getOptionValueSource('config') === 'default'
      const over =
        primary === undefined ? {} : { primary, secondary: secondary as string }
      const load = async (): Promise<ErdConfig> =>
        (await loadConfig(flags.config, over, optional)).config
      if (flags.checkConfig) {
        state.exitCode = await checkConfig(load, flags.config, io)
        return
      }
      const logger = createLogger({ name: 'erd', level: flags.logLevel })
      const first = await loadConfig(flags.config, over, optional)
      for (const w of first.warnings)
        logger.warn({ issue: formatIssue(w) }, 'configuration warning')
      const { createErd } = await import('./erd.js')
      const daemon = await runDaemon<ErdConfig>({
        name: 'erd',
        version,
        logger,
        load,
        start: config => createErd({ config, logger }),
        controlAddress: flags.control ?? false,
        ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
      })
      state.exitCode = await daemon.done
    },
  )

  const status = new Command('status')
    .description('show the active link, link states and recent transitions')
    .option('--json', 'print the raw JSON')
  addControlOption(status, defaultControlPath('erd'))
  status.action(async (opts: { control: string; json?: boolean }) => {
    const s = (await controlRequest(opts.control, 'status')) as ErdStatus
    io.out(opts.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s))
  })
  program.addCommand(status)
  return program
}

/** Human form of `status`: links, then transitions (newest last). */
export function formatStatus(s: ErdStatus): string {
  const links = formatTable(
    ['LINK', 'IF', 'PHASE', 'CARRIER', 'SINCE', 'FLAPPING', 'ACTIVE'],
    (['primary', 'secondary'] as const).map(r => {
      const l = s.links[r]
      return [
        r,
        l.ifname,
        l.phase + (l.until ? ` until ${l.until}` : ''),
        l.carrier ? 'yes' : 'no',
        l.since,
        l.flapping ? 'yes' : 'no',
        s.active === r ? '*' : '',
      ]
    }),
  )
  const trans = s.transitions.length
    ? formatTable(
        ['AT', 'FROM', 'TO', 'APPLY_MS', 'REASON'],
        s.transitions.map(t => [
          t.at,
          t.from ?? 'none',
          t.to ?? 'none',
          t.applyMs ?? '',
          t.reason,
        ]),
      )
    : 'no transitions\n'
  const pin = s.pinned ? ` (pinned by operator)` : ''
  // Only the degraded mode is worth a line: peers erd never saw keep the old MAC.
  const ns =
    s.ipv6Announce === 'ns'
      ? 'ipv6 announcements: solicitations to known neighbours only (no perl, ERD_ERR_NO_PERL)\n'
      : ''
  return `active: ${s.active ?? 'none'}${pin}\n${ns}\n${links}\n${trans}`
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK as number }
  return runProgram(createProgram(io, state), argv, io, state)
}
