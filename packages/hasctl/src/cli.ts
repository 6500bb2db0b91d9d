// `hasctl status`: the only commander importer. Reads the sources once (or
// every --watch interval) and prints the cluster view, or JSON.

import { Command } from 'commander'
import {
  EXIT,
  parseDuration,
  parseHostPort,
  packageVersion,
  runProgram,
  stdio,
  type CliIo,
} from '@has/daemon-kit'
import { DEFAULT_CONFIG, loadConfig } from './config.js'
import { DAEMONS, isDaemonName, type DaemonName } from './daemons.js'
import { clusterView, type ClusterSources } from './cluster.js'
import { formatView } from './format.js'
import { hasctlError } from './errors.js'

interface StatusFlags {
  config: string
  json?: boolean
  watch?: string | true
  count?: string
  remote: string[]
  socket: string[]
  controlDir?: string
  timeout?: string
}

const collect = (v: string, prev: string[]): string[] => [...prev, v]

function usage(text: string): never {
  throw hasctlError('HASCTL_ERR_CONFIG', text)
}

async function sources(
  f: StatusFlags,
  configGiven: boolean,
): Promise<ClusterSources> {
  const cfg = await loadConfig(f.config, configGiven)
  const controls: Partial<Record<DaemonName, string>> = { ...cfg.controls }
  for (const s of f.socket) {
    const [d = '', path] = s.split(/=(.*)/s)
    if (!isDaemonName(d) || !path)
      usage(
        `--socket "${s}": expected <daemon>=<path>, daemon one of ${DAEMONS.join(' ')}`,
      )
    controls[d] = path
  }
  for (const r of f.remote)
    if (!parseHostPort(r)) usage(`--remote "${r}": expected host:port`)
  let timeoutMs = cfg.timeoutMs
  if (f.timeout !== undefined) {
    const ms = parseDuration(f.timeout, 's')
    if (ms === undefined || ms <= 0)
      usage(`--timeout "${f.timeout}": expected a duration such as 2s`)
    timeoutMs = ms
  }
  return {
    controls,
    remotes: [...cfg.remotes, ...f.remote],
    timeoutMs,
    ...(f.controlDir ? { controlDir: f.controlDir } : {}),
  }
}

export function createProgram(
  io: CliIo = stdio,
  state = { exitCode: 0 as number },
): Command {
  const program = new Command('hasctl')
    .description(
      'one view of a has cluster: every daemon on this node and the other masters',
    )
    .version(packageVersion(import.meta.url), '-V, --version')
  const status = new Command('status')
    .description(
      'print VIP owner, virtual services, checks, NICs, NFS, sync and RA state, like crm_mon',
    )
    .option(
      '-c, --config <path>',
      'hasctl.conf (remote, control, timeout directives)',
      DEFAULT_CONFIG,
    )
    .option(
      '--json',
      'print the view as JSON (one line per refresh with --watch)',
    )
    .option(
      '-w, --watch [seconds]',
      'refresh every interval (default 2 s) until interrupted',
    )
    .option('--count <n>', 'with --watch: stop after n refreshes')
    .option(
      '-r, --remote <host:port>',
      "another master's daemon --metrics listener (repeatable)",
      collect,
      [],
    )
    .option(
      '-s, --socket <daemon=path>',
      'control socket of one daemon (repeatable)',
      collect,
      [],
    )
    .option(
      '--control-dir <dir>',
      'look for <dir>/<daemon>.sock instead of the default paths',
    )
    .option('--timeout <duration>', 'per request (default 2s)')
  status.action(async (f: StatusFlags) => {
    const src = await sources(
      f,
      status.getOptionValueSource('config') === 'cli',
    )
    const print = (
      view: Awaited<ReturnType<typeof clusterView>>,
      clear: boolean,
    ): void => {
      if (f.json)
        io.out(`${JSON.stringify(view, null, f.watch ? undefined : 2)}\n`)
      else io.out((clear ? '\x1b[H\x1b[2J' : '') + formatView(view))
    }
    if (f.watch === undefined) {
      const view = await clusterView(src)
      print(view, false)
      if (!view.daemons.some(d => d.state === 'running')) {
        const e = hasctlError('HASCTL_ERR_NOTHING_RUNNING')
        io.err(`${e.code}: ${e.message}\n`)
        state.exitCode = EXIT.RUNTIME
      }
      return
    }
    const everyMs = f.watch === true ? 2000 : parseDuration(f.watch, 's')
    if (everyMs === undefined || everyMs <= 0)
      usage(`--watch "${String(f.watch)}": expected seconds`)
    const count = f.count === undefined ? Infinity : Number(f.count)
    if (!(count >= 1)) usage(`--count "${f.count}": expected a positive number`)
    let stop = false
    let wake: (() => void) | undefined
    const onSignal = (): void => {
      stop = true
      wake?.()
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    const clear = process.stdout.isTTY === true && !f.json
    try {
      for (let i = 0; i < count && !stop; i++) {
        print(await clusterView(src), clear)
        if (i + 1 < count && !stop) {
          await new Promise<void>(r => {
            const timer = setTimeout(r, everyMs)
            wake = () => {
              clearTimeout(timer)
              r()
            }
          })
        }
      }
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  })
  program.addCommand(status)
  return program
}

export async function main(
  argv: readonly string[],
  io: CliIo = stdio,
): Promise<number> {
  const state = { exitCode: EXIT.OK as number }
  return runProgram(createProgram(io, state), argv, io, state)
}
