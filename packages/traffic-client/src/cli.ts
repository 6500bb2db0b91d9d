// The command line: `traffic-client` runs the daemon; `status`, `pause`,
// `resume` and `drain` talk to a running one over its control socket. The
// only commander importer; main() runs in-process in tests.

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
  senderEpoch,
  defaultEpochFile,
  stdio,
  type CliIo,
  type DaemonFlags,
} from '@has/daemon-kit'
import { loadConfig } from './config.js'
import { createTrafficClient, type TrafficClientStatus } from './client.js'
import { createErrorLogStream } from '@has/daemon-kit'
import { FLAG_COMMANDS } from './flag.js'
import { addDrNodeCommand } from './dr-node-cli.js'

export const NAME = 'traffic-client'
export const DEFAULT_CONFIG = '/etc/has/tcd.conf'

export function createProgram(
  io: CliIo = stdio,
  state = { exitCode: 0 },
): Command {
  const version = packageVersion(import.meta.url)
  const control = defaultControlPath(NAME)
  const program = new Command(NAME)
    .description(
      "report this traffic node's load index to the traffic-managers (HAS thesis 3.22.5)",
    )
    .version(version, '-V, --version')
    .enablePositionalOptions()
  // `traffic-client --control X pause` puts X on the program, not on the
  // subcommand: honour it instead of silently asking the default socket.
  const controlOf = (sub: Command): string =>
    sub.getOptionValueSource('control') !== 'cli' &&
    program.getOptionValueSource('control') === 'cli'
      ? program.opts<{ control: string }>().control
      : sub.opts<{ control: string }>().control
  addDaemonOptions(program, { config: DEFAULT_CONFIG, control })
    .option(
      '--procfs <dir>',
      'read cpuinfo, meminfo and stat from this /proc tree',
    )
    .action(async (flags: DaemonFlags & { procfs?: string }) => {
      const load = () =>
        loadConfig(flags.config, {
          ...(flags.procfs ? { procfs: flags.procfs } : {}),
          warn: w =>
            flags.checkConfig
              ? io.err(`warning: ${formatIssue(w)}\n`)
              : logger.warn({ issue: w }, formatIssue(w)),
        })
      const errorLog = createErrorLogStream()
      const logger = createLogger({
        name: NAME,
        level: flags.logLevel,
        destination: errorLog,
      })
      if (flags.checkConfig) {
        state.exitCode = await checkConfig(load, flags.config, io)
        return
      }
      const daemon = await runDaemon({
        name: NAME,
        version,
        logger,
        load,
        start: async config => {
          // Never backwards across restarts, even after a clock step (issue 19.9).
          const e = senderEpoch(defaultEpochFile(NAME))
          if (e.warning) logger.warn({ epoch: e.epoch }, e.warning)
          const client = createTrafficClient({
            config,
            logger,
            errorLog,
            epoch: e.epoch,
          })
          await client.start()
          return client
        },
        controlAddress: flags.control ?? control,
        ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
      })
      state.exitCode = await daemon.done
    })

  addControlOption(
    program
      .command('status')
      .description("show the running client's flag, load and masters"),
    control,
  )
    .option('--json', 'print the raw JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const s = (await controlRequest(
        controlOf(cmd),
        'status',
      )) as TrafficClientStatus
      io.out(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s))
    })

  for (const cmd of FLAG_COMMANDS) {
    const what = {
      pause: 'stop reporting',
      resume: 'report again',
      drain: 'report load 0, state drain',
    }[cmd]
    addControlOption(
      program.command(cmd).description(`load-report flag: ${what}`),
      control,
    ).action(async (_o: unknown, sub: Command) => {
      const r = (await controlRequest(controlOf(sub), cmd)) as {
        previous: string
        flag: string
      }
      io.out(`flag: ${r.previous} -> ${r.flag}\n`)
    })
  }
  addDrNodeCommand(program, io, state)
  return program
}

export function formatStatus(s: TrafficClientStatus): string {
  const load = s.load
    ? `${s.load.load} (${s.load.percent}% spare)`
    : 'not computed yet'
  const head =
    `node ${s.nodes.join(' ')}  flag ${s.flag}  formula ${s.formula}  load ${load}\n` +
    `seq ${s.seq}  epoch ${s.epoch}  every ${s.updatesMs} ms  ${s.signed ? 'signed' : 'UNSIGNED'}` +
    `${s.agent ? `  agent-check ${s.agent}` : ''}\n` +
    (s.lastError ? `last error: ${s.lastError}\n` : '')
  return (
    head +
    formatTable(
      ['master', 'address', 'sent', 'errors', 'last sent', 'last error'],
      s.masters.map(m => [
        m.name,
        m.address,
        m.sent,
        m.errors,
        m.lastSent ?? '-',
        m.lastError ?? '',
      ]),
    )
  )
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK as number }
  return runProgram(createProgram(io, state), argv, io, state)
}
