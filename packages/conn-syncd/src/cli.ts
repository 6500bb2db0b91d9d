// The only commander importer: the daemon (default command) and `status`.

import type { ConnSyncdStatus } from './conn-syncd.js'
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
  defaultEpochFile,
  senderEpoch,
  stdio,
  type CliIo,
  type DaemonFlags,
} from '@has/daemon-kit'

const NAME = 'conn-syncd'
const DEFAULT_CONFIG = '/etc/has/conn-syncd.conf'

/**
 * What `status` prints: the daemon's ConnSyncdStatus; readiness fields are
 * optional so that a daemon from before readiness still prints.
 */
type StatusView = Pick<
  ConnSyncdStatus,
  | 'node'
  | 'listen'
  | 'localFlows'
  | 'heldEntries'
  | 'sent'
  | 'received'
  | 'lost'
  | 'dropped'
  | 'resyncRequested'
  | 'resyncServed'
  | 'inserted'
  | 'insertFailed'
  | 'peers'
> &
  Partial<
    Pick<ConnSyncdStatus, 'ready' | 'waitingFor' | 'kernelPending' | 'priority'>
  >

export function formatStatus(s: StatusView): string {
  const head =
    `node ${s.node} listen ${s.listen}: local flows ${s.localFlows}, held ${s.heldEntries}` +
    (s.ready === undefined
      ? '\n'
      : `, ready ${s.ready ? 'yes' : `no (waiting for ${s.waitingFor?.join(' ') || 'the kernel'}, ${s.kernelPending ?? 0} pending)`}\n`) +
    `sent ${s.sent} received ${s.received} lost ${s.lost} dropped ${s.dropped} ` +
    `resync requested ${s.resyncRequested} served ${s.resyncServed} inserted ${s.inserted} insert-failed ${s.insertFailed}\n` +
    (s.priority
      ? `cpu priority: nice ${s.priority.nice}, scheduler ${s.priority.policy}${s.priority.rtPriority ? ` ${s.priority.rtPriority}` : ''}\n`
      : '')
  return (
    head +
    formatTable(
      ['PEER', 'ADDRESS', 'ENTRIES', 'RECEIVED', 'LOST', 'RESYNCED', 'SEEN'],
      s.peers.map(p => [
        p.name,
        p.address,
        p.entries,
        p.received,
        p.lost,
        p.resyncsReceived,
        `${Math.round(p.lastSeenMsAgo / 1000)}s ago`,
      ]),
    )
  )
}

interface FlowView {
  peer: string
  inKernel: boolean
  proto: number
  src: string
  sport: number
  dst: string
  dport: number
  natDst: string
  natDport: number
}

export function formatFlows(list: readonly FlowView[]): string {
  return formatTable(
    ['PEER', 'PROTO', 'CLIENT', 'SERVICE', 'NODE', 'IN-KERNEL'],
    list.map(f => [
      f.peer,
      f.proto === 6 ? 'tcp' : 'udp',
      `${f.src}:${f.sport}`,
      `${f.dst}:${f.dport}`,
      `${f.natDst}:${f.natDport}`,
      f.inKernel ? 'yes' : 'no',
    ]),
  )
}

export function createProgram(io: CliIo, state: { exitCode: number }): Command {
  const program = new Command(NAME)
    .description(
      'peer-to-peer connection-table sync for HA masters (conntrack + nftables)',
    )
    .version(packageVersion(import.meta.url), '-V, --version')
    // `status --control x` must reach the subcommand, not the daemon flags.
    .enablePositionalOptions()
  addDaemonOptions(program, {
    config: DEFAULT_CONFIG,
    control: defaultControlPath(NAME),
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
    const { createConnSyncd } = await import('./conn-syncd.js')
    const { applyPriority } = await import('./priority.js')
    const { checkTcpLiberal } = await import('./tcp-liberal.js')
    const logger = createLogger({ name: NAME, level: flags.logLevel })
    const handle = await runDaemon({
      name: NAME,
      version: packageVersion(import.meta.url),
      logger,
      load: () => loadConfig(flags.config),
      start: async config => {
        // Before the first conntrack child: they inherit it (restart only).
        await applyPriority(config, logger)
        checkTcpLiberal(logger)
        // Never backwards across restarts, even after a clock step (issue 19.9).
        const e = senderEpoch(defaultEpochFile(NAME))
        if (e.warning) logger.warn({ epoch: e.epoch }, e.warning)
        return createConnSyncd({ config, logger, epoch: e.epoch })
      },
      controlAddress: flags.control ?? false,
      ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
    })
    state.exitCode = await handle.done
  })
  const status = new Command('status')
    .description('show peers, entries and counters of the running daemon')
    .option('--json', 'print JSON')
  addControlOption(status, defaultControlPath(NAME))
  status.action(async (opts: { control: string; json?: boolean }) => {
    const s = (await controlRequest(opts.control, 'status')) as StatusView
    io.out(opts.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s))
    state.exitCode = EXIT.OK
  })
  program.addCommand(status)

  // The entries held from peers; `inKernel` is what a planned switch-over waits for.
  const flows = new Command('flows')
    .description('list the entries held from peers (JSON lines with --json)')
    .option('--json', 'print JSON')
  addControlOption(flows, defaultControlPath(NAME))
  flows.action(async (opts: { control: string; json?: boolean }) => {
    const list = (await controlRequest(opts.control, 'flows')) as FlowView[]
    io.out(opts.json ? `${JSON.stringify(list, null, 2)}\n` : formatFlows(list))
    state.exitCode = EXIT.OK
  })
  program.addCommand(flows)

  // For a resource agent or an operator: exit 0 once every peer table is in the kernel.
  const waitReady = new Command('wait-ready')
    .description(
      'wait until every peer table has arrived and is in the kernel; exit 0 ready, 1 not ready in time',
    )
    .option('--timeout <ms>', 'how long to wait, in ms', '10000')
  addControlOption(waitReady, defaultControlPath(NAME))
  waitReady.action(async (opts: { control: string; timeout: string }) => {
    const ms = Number(opts.timeout)
    const r = (await controlRequest(
      opts.control,
      'wait-ready',
      [String(ms)],
      ms + 5000,
    )) as { ready: boolean; waitingFor: string[] }
    io.out(`${JSON.stringify(r)}\n`)
    state.exitCode = r.ready ? EXIT.OK : 1
  })
  program.addCommand(waitReady)
  return program
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK }
  return runProgram(createProgram(io, state), argv, io, state)
}
