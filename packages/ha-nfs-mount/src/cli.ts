// The command line: `ha-nfs-mount [source mountpoint]` runs the mount
// daemon (from the arguments or from --config), `sync <source> <target>`
// runs one content sync, `status` asks a running daemon.

import { Command } from 'commander'
import {
  addControlOption,
  addDaemonOptions,
  checkConfig,
  controlRequest,
  createLogger,
  defaultControlPath,
  EXIT,
  formatTable,
  packageVersion,
  runProgram,
  stdio,
  type CliIo,
  type DaemonFlags,
  configOrThrow,
} from '@has/daemon-kit'
import {
  mountConfigText,
  syncConfigText,
  type MountFlags,
  type SyncFlags,
} from './cli-config.js'
import type { HnmConfig } from './config.js'
import type { HaNfsMountStatus } from './service.js'

const NAME = 'ha-nfs-mount'
const DEFAULT_CONFIG = '/etc/has/ha-nfs-mount.conf'

export function createProgram(
  io: CliIo = stdio,
  state = { exitCode: 0 },
): Command {
  const version = packageVersion(import.meta.url)
  const program = new Command(NAME)
    .description(
      'one NFS mount point over redundant servers, with failover and content sync',
    )
    .version(version)
    .enablePositionalOptions()
    .argument(
      '[source]',
      'server1,server2:/export (otherwise mounts come from --config)',
    )
    .argument('[mountpoint]', 'where the healthy server is presented')
    .option(
      '-o, --options <opts>',
      'mount options (nfs options, plus ha-failures=, ha-failback=, ha-versions=)',
    )
    .option(
      '--mounter <kind>',
      'nfs (default) or bind (the test seam: bind-mount --bind-map dirs)',
    )
    .option(
      '--bind-map <server:/export=dir>',
      'bind mounter: local directory of a server export (repeat per server)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--staging-dir <dir>',
      'where each server export is mounted privately',
    )
    .option('--failures <n>', 'consecutive failed probes before failover')
    .option(
      '--failback-hold <duration|never>',
      'how long the preferred server must be healthy before failback',
    )
    .option('--interval <duration>', 'RPC probe interval')
  addDaemonOptions(program, {
    config: DEFAULT_CONFIG,
    control: defaultControlPath(NAME),
  })
  program.action(
    async (
      source: string | undefined,
      mountPoint: string | undefined,
      flags: DaemonFlags & MountFlags,
    ) => {
      if (source !== undefined && mountPoint === undefined) {
        program.error(
          'error: give both <source> and <mountpoint>, or neither (then --config is read)',
        )
      }
      const { loadConfig, parseConfig } = await import('./config.js')
      const load =
        source !== undefined && mountPoint !== undefined
          ? async () =>
              configOrThrow(
                parseConfig(
                  mountConfigText(source, mountPoint, flags),
                  '<command line>',
                ),
              )
          : () => loadConfig(flags.config)
      state.exitCode = await runMode(
        load,
        source ? '<command line>' : flags.config,
        flags,
        version,
        io,
        !source,
      )
    },
  )

  const sync = program
    .command('sync')
    .description(
      'keep <target> identical to <source> (rsync on every change, retry until it converges)',
    )
    .argument('<source>', 'directory to watch (the primary export)')
    .argument(
      '<target>',
      'directory, host:/dir (ssh) or rsync://host/module/dir',
    )
    .option('--delay <duration>', 'batch changes this long before a pass')
    .option('--rsync <path>', 'rsync binary')
  addDaemonOptions(sync, {
    config: DEFAULT_CONFIG,
    control: defaultControlPath(`${NAME}-sync`),
  })
  sync.action(
    async (source: string, target: string, flags: DaemonFlags & SyncFlags) => {
      const { parseConfig } = await import('./config.js')
      const load = async () =>
        configOrThrow(
          parseConfig(syncConfigText(source, target, flags), '<command line>'),
        )
      state.exitCode = await runMode(
        load,
        '<command line>',
        flags,
        version,
        io,
        false,
      )
    },
  )

  const status = program
    .command('status')
    .description(
      'show the servers, the active one and the sync state of a running daemon',
    )
    .option('--json', 'print the raw JSON status')
  addControlOption(status, defaultControlPath(NAME))
  status.action(async (flags: { control: string; json?: boolean }) => {
    const s = (await controlRequest(
      flags.control,
      'status',
    )) as HaNfsMountStatus
    io.out(flags.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s))
    state.exitCode = EXIT.OK
  })
  return program
}

async function runMode(
  load: () => Promise<HnmConfig>,
  label: string,
  flags: DaemonFlags,
  version: string,
  io: CliIo,
  watchConfig: boolean,
): Promise<number> {
  if (flags.checkConfig) return checkConfig(load, label, io)
  const [{ runDaemon }, { createHaNfsMount }] = await Promise.all([
    import('@has/daemon-kit'),
    import('./service.js'),
  ])
  const logger = createLogger({ name: NAME, level: flags.logLevel })
  const handle = await runDaemon<HnmConfig>({
    name: NAME,
    version,
    logger,
    load,
    start: config => createHaNfsMount({ config, logger }),
    controlAddress: flags.control,
    ...(flags.metrics ? { metricsListen: flags.metrics } : {}),
    // A config file is also watched (the kit debounces, validates, keeps
    // the last good one); command-line forms have nothing to watch.
    ...(watchConfig ? { watchPaths: [label] } : {}),
  })
  return handle.done
}

/** Human form of `status` (pure, tested). */
export function formatStatus(s: HaNfsMountStatus): string {
  let out = ''
  for (const m of s.mounts) {
    out += `${m.mountPoint}  ${m.source}  active=${m.active ?? '-'}  failovers=${m.failovers}\n`
    out += formatTable(
      ['SERVER', 'STATE', 'ACTIVE', 'FAILS', 'RPC', 'RPC-MS', 'LAST-ERROR'],
      m.servers.map(v => [
        v.name,
        v.healthy ? 'up' : 'down',
        v.name === m.active ? '*' : '',
        v.consecutiveFailures,
        v.rpc
          ? Object.entries(v.rpc)
              .map(([k, r]) => `v${k}:${r}`)
              .join(',')
          : '-',
        v.rpcMs ?? '-',
        v.lastError ?? '',
      ]),
    )
  }
  if (s.syncs.length) {
    out += formatTable(
      [
        'SOURCE',
        'TARGET',
        'STATE',
        'PASSES',
        'FAILS',
        'LAG-MS',
        'PENDING-MS',
        'LAST-ERROR',
      ],
      s.syncs.map(v => [
        v.source,
        v.target,
        v.state,
        v.passes,
        v.consecutiveFailures,
        v.lastLagMs ?? '-',
        v.pendingMs ?? '-',
        v.lastError ?? '',
      ]),
    )
  }
  return out
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: 0 }
  return runProgram(createProgram(io, state), argv, io, state)
}
