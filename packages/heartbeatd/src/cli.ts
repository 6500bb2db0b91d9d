// The command line: the daemon itself, and the query/admin subcommands
// (status, standby, takeover) that talk to its control socket.

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

const NAME = 'heartbeatd'
const DEFAULT_CONFIG = '/etc/ha.d/ha.cf'

interface StatusView {
  self: string
  peer: string
  peerAlive: boolean
  standby: boolean
  active: string | null
  ping: { ok: number; total: number; peerOk: number | null }
  groups: { name: string; home: string; state: string; holder: string | null }[]
  paths: {
    name: string
    up: boolean
    lastSeenMsAgo: number | null
    received: number
    lost: number
    loss: number
  }[]
  dropped: Record<string, number>
}

function formatStatus(s: StatusView): string {
  const role = s.standby
    ? 'standby (requested)'
    : s.active === s.self
      ? 'active'
      : 'standby'
  let out = `node ${s.self}: ${role}; peer ${s.peer}: ${s.peerAlive ? 'alive' : 'dead'}; active: ${s.active ?? 'none'}\n`
  if (s.ping.total)
    out += `ping nodes: ${s.ping.ok}/${s.ping.total} (peer: ${s.ping.peerOk ?? '?'})\n`
  out +=
    '\n' +
    formatTable(
      ['PATH', 'STATE', 'LAST SEEN', 'RECEIVED', 'LOST', 'LOSS'],
      s.paths.map(p => [
        p.name,
        p.up ? 'up' : 'down',
        p.lastSeenMsAgo === null
          ? 'never'
          : `${p.lastSeenMsAgo.toFixed(0)} ms ago`,
        p.received,
        p.lost,
        `${(p.loss * 100).toFixed(2)}%`,
      ]),
    )
  out +=
    '\n' +
    formatTable(
      ['GROUP', 'HOME', 'LOCAL STATE', 'HOLDER'],
      s.groups.map(g => [g.name, g.home, g.state, g.holder ?? 'none']),
    )
  const d = Object.entries(s.dropped)
  if (d.length)
    out += `\ndropped: ${d.map(([k, v]) => `${k}=${v}`).join(' ')}\n`
  return out
}

export function createProgram(io: CliIo, state: { exitCode: number }): Command {
  const version = packageVersion(import.meta.url)
  const control = defaultControlPath(NAME)
  const program = new Command(NAME)
    .description('master-node heartbeat over several paths, with VIP takeover')
    .version(version, '-V, --version')
    // Subcommands have their own --control; keep the daemon's apart.
    .enablePositionalOptions()
  addDaemonOptions(program, { config: DEFAULT_CONFIG, control })
    .option('--node <name>', 'local node name (default: uname -n)')
    .option(
      '--release-resources',
      'stop every haresources group on this node (the VIPs go) and exit; for ExecStopPost=',
    )
    .action(
      async (
        flags: DaemonFlags & { node?: string; releaseResources?: boolean },
      ) => {
        const { loadConfig } = await import('./config.js')
        const load = () =>
          loadConfig(
            flags.config,
            flags.node === undefined ? {} : { node: flags.node },
          )
        if (flags.checkConfig) {
          state.exitCode = await checkConfig(load, flags.config, io)
          return
        }
        if (flags.releaseResources) {
          const { releaseResources } = await import('./release.js')
          const logger = createLogger({ name: NAME, level: flags.logLevel })
          const ok = await releaseResources(await load(), logger)
          state.exitCode = ok ? EXIT.OK : EXIT.RUNTIME
          return
        }
        const { createHeartbeatd } = await import('./heartbeatd.js')
        const logger = createLogger({ name: NAME, level: flags.logLevel })
        const d = await runDaemon({
          name: NAME,
          version,
          logger,
          load,
          start: config => {
            // `gen` never goes backwards across restarts, even after the
            // clock stepped back (issue 19.9; PROTOCOL.md "Restarts").
            const e = senderEpoch(defaultEpochFile(NAME))
            if (e.warning) logger.warn({ generation: e.epoch }, e.warning)
            return createHeartbeatd({ config, logger, generation: e.epoch })
          },
          controlAddress: flags.control ?? control,
          ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
        })
        state.exitCode = await d.done
      },
    )
  const query = (
    name: string,
    description: string,
    show: (v: unknown, json: boolean) => string,
  ) => {
    const c = new Command(name)
      .description(description)
      .option('--json', 'print JSON')
    addControlOption(c, control).action(
      async (f: { control: string; json?: boolean }) => {
        const v = await controlRequest(f.control, name)
        io.out(show(v, !!f.json))
        state.exitCode = EXIT.OK
      },
    )
    program.addCommand(c)
  }
  query('status', 'show nodes, paths, role and resources', (v, json) =>
    json ? JSON.stringify(v, null, 2) + '\n' : formatStatus(v as StatusView),
  )
  query(
    'standby',
    'hand all resources to the peer and stay standby',
    v => JSON.stringify(v) + '\n',
  )
  query(
    'takeover',
    'take all resources from the peer',
    v => JSON.stringify(v) + '\n',
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
