// Command line: the options every has daemon has, plus `status`, `drain`
// and `resume` subcommands that talk to the running daemon.

import { Command } from 'commander'
import {
  EXIT,
  addControlOption,
  addDaemonOptions,
  checkConfig,
  controlRequest,
  createLogger,
  defaultControlPath,
  formatTable,
  packageVersion,
  runDaemon,
  runProgram,
  stdio,
  type CliIo,
  type DaemonFlags,
} from '@has/daemon-kit'

export const NAME = 'vip-announcer'
export const DEFAULT_CONFIG = '/etc/has/vip-announcer.conf'

export interface StatusView {
  state: string
  since: string
  reason: string
  detail: string
  announced: boolean
  protocols: { name: string; bird: string }[]
  bird: { socket: string; connected: boolean }
  trafficManager: { socket: string; connected: boolean }
  lastWithdrawMs: number | null
}

/** Renders `status` for humans. */
export function formatStatus(s: StatusView): string {
  const head =
    `state ${s.state} since ${s.since} (${s.reason}: ${s.detail}); routes ${s.announced ? 'announced' : 'withdrawn'}` +
    (s.lastWithdrawMs === null
      ? ''
      : `; last withdrawal took ${s.lastWithdrawMs} ms`) +
    '\n'
  const table = formatTable(
    ['PROTOCOL', 'IN BIRD'],
    s.protocols.map(p => [p.name, p.bird]),
  )
  const links = formatTable(
    ['PEER', 'SOCKET', 'CONNECTED'],
    [
      ['bird', s.bird.socket, s.bird.connected ? 'yes' : 'no'],
      [
        'traffic-manager',
        s.trafficManager.socket,
        s.trafficManager.connected ? 'yes' : 'no',
      ],
    ],
  )
  return `${head}${table}${links}`
}

export function createProgram(io: CliIo, state: { exitCode: number }): Command {
  const program = new Command(NAME)
    .description(
      'announce the VIP routes through BIRD while the local traffic-manager is healthy',
    )
    .enablePositionalOptions()
    .version(packageVersion(import.meta.url), '-v, --version')
  addDaemonOptions(program, {
    config: DEFAULT_CONFIG,
    control: defaultControlPath(NAME),
  }).action(async (flags: DaemonFlags) => {
    const { loadConfig } = await import('./config.js')
    if (flags.checkConfig) {
      state.exitCode = await checkConfig(
        () => loadConfig(flags.config),
        flags.config,
        io,
      )
      return
    }
    const { createVipAnnouncer } = await import('./announcer.js')
    const logger = createLogger({ name: NAME, level: flags.logLevel })
    const first = await loadConfig(flags.config)
    let loaded = false
    const d = await runDaemon({
      name: NAME,
      version: packageVersion(import.meta.url),
      logger,
      // The first load is the one above (its drain sets the stop deadline).
      load: async () =>
        loaded ? loadConfig(flags.config) : ((loaded = true), first),
      start: config => createVipAnnouncer({ config, logger }),
      shutdownDeadlineMs: first.drainMs + 5000,
      controlAddress: flags.control ?? defaultControlPath(NAME),
      ...(flags.controlAllowRemote ? { allowRemoteControl: true } : {}),
      ...(flags.metricsAllowRemote ? { allowRemoteMetrics: true } : {}),
      ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
    })
    state.exitCode = await d.done
  })

  const ask = (
    name: string,
    description: string,
    render: (v: unknown, json: boolean) => string,
  ): void => {
    const sub = program.command(name).description(description)
    addControlOption(sub, defaultControlPath(NAME))
      .option('--json', 'print the raw JSON')
      .action(async (o: { control: string; json?: boolean }) => {
        const v = await controlRequest(o.control, name)
        io.out(render(v, o.json === true))
        state.exitCode = EXIT.OK
      })
  }
  ask(
    'status',
    'show the state, the protocols in BIRD and the peers',
    (v, json) =>
      json ? `${JSON.stringify(v, null, 2)}\n` : formatStatus(v as StatusView),
  )
  ask(
    'drain',
    'withdraw the routes and keep them withdrawn until resume',
    (v, json) =>
      json
        ? `${JSON.stringify(v)}\n`
        : `state ${(v as { state: string }).state}\n`,
  )
  ask('resume', 'announce again once health has settled', (v, json) =>
    json
      ? `${JSON.stringify(v)}\n`
      : `state ${(v as { state: string }).state}\n`,
  )
  return program
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK }
  return runProgram(createProgram(io, state), argv, io, state)
}
