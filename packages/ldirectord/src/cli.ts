// The command line: `ldirectord [options]` runs the daemon, `ldirectord
// status` asks a running one. The only file that imports commander.

import { Command } from 'commander'
import {
  EXIT,
  addControlOption,
  addDaemonOptions,
  checkConfig,
  controlRequest,
  createLogger,
  defaultControlPath,
  defaultEpochFile,
  formatTable,
  packageVersion,
  runDaemon,
  runProgram,
  senderEpoch,
  stdio,
  type CliIo,
  type DaemonFlags,
} from '@has/daemon-kit'
import type { LdStatus } from './ldirectord.js'

export const DEFAULT_CONFIG = '/etc/ha.d/ldirectord.cf'

export function createProgram(io: CliIo, state: { exitCode: number }): Command {
  const version = packageVersion(import.meta.url)
  const program = new Command('ldirectord')
    .description('health checks for real servers; drains failed traffic nodes')
    .version(version, '-V, --version')
    .enablePositionalOptions()
  addDaemonOptions(program, {
    config: DEFAULT_CONFIG,
    control: defaultControlPath('ldirectord'),
  })
  program.action(async (flags: DaemonFlags) => {
    const { loadConfig } = await import('./config.js')
    if (flags.checkConfig) {
      state.exitCode = await checkConfig(
        () => loadConfig(flags.config),
        flags.config,
        io,
      )
      return
    }
    const { createLdirectord } = await import('./ldirectord.js')
    const logger = createLogger({ name: 'ldirectord', level: flags.logLevel })
    const first = await loadConfig(flags.config)
    let epoch: number | undefined
    const handle = await runDaemon({
      name: 'ldirectord',
      version,
      logger,
      load: () => loadConfig(flags.config),
      start: config => {
        // HAS-mode reports carry an epoch that must never go backwards,
        // even after a clock step (issue 19.9): persisted across restarts.
        // Taken once per process, only when this start sends reports.
        if (
          config.hasmode &&
          config.trafficmanagers.length &&
          epoch === undefined
        ) {
          const e = senderEpoch(defaultEpochFile('ldirectord'))
          if (e.warning) logger.warn({ epoch: e.epoch }, e.warning)
          epoch = e.epoch
        }
        return createLdirectord({
          config,
          logger,
          ...(epoch !== undefined ? { epoch } : {}),
        })
      },
      watchPaths: first.autoreload ? [flags.config] : [],
      controlAddress: flags.control ?? defaultControlPath('ldirectord'),
      ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
    })
    state.exitCode = await handle.done
  })

  const status = new Command('status')
    .description('virtual services, real servers and their last check')
    .option('--json', 'print the raw JSON answer')
  addControlOption(status, defaultControlPath('ldirectord'))
  status.action(async (o: { control: string; json?: boolean }) => {
    const s = (await controlRequest(o.control, 'status')) as LdStatus
    if (o.json) {
      io.out(`${JSON.stringify(s, null, 2)}\n`)
      return
    }
    io.out(formatStatus(s))
    state.exitCode = EXIT.OK
  })
  program.addCommand(status)
  return program
}

/** ipvsadm-like text: one block per virtual service. */
export function formatStatus(s: LdStatus): string {
  let out = `mode: ${s.mode}\n`
  for (const v of s.virtuals) {
    const affinity =
      v.persistent === undefined
        ? ''
        : ` persistent=${v.persistent / 1000}s${v.netmask === undefined ? '' : `/${v.netmask}`}`
    out += `\n${v.name}  checktype=${v.checktype} service=${v.service} scheduler=${v.scheduler}${affinity}\n`
    out += formatTable(
      ['REAL', 'STATUS', 'FAILURES', 'LAST', 'CHECKED', 'REASON'],
      v.reals.map(r => [
        r.real,
        r.status,
        r.failures,
        r.result ?? '-',
        r.lastCheck ?? '-',
        r.reason ?? '-',
      ]),
    )
  }
  return out
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK }
  return runProgram(createProgram(io, state), argv, io, state)
}
