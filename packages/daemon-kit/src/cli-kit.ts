// Helpers for each package's cli.ts: the options every daemon has, the one
// place where errors become exit statuses, and --check-config reporting.
// Packages still build their own commander program; this keeps the flags
// and exit codes identical across daemons.

import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { EXIT, hasCode, HasError } from './errors.js'
import { ConfigError, formatIssue } from './config-source.js'
import { LOG_LEVELS } from './logger.js'
import { permitRemoteListen } from './listen-policy.js'
import { allowUnsafeControlPaths } from './control-peer.js'

export interface CliIo {
  out(text: string): void
  err(text: string): void
}

export const stdio: CliIo = {
  out: t => process.stdout.write(t),
  err: t => process.stderr.write(t),
}

export interface DaemonFlags {
  config: string
  checkConfig?: boolean
  logLevel: (typeof LOG_LEVELS)[number]
  metrics?: string
  control?: string
  controlAllowRemote?: boolean
  metricsAllowRemote?: boolean
}

/** Adds --config, --check-config, --log-level, --metrics, --control. */
export function addDaemonOptions(
  cmd: Command,
  defaults: { config: string; control: string },
): Command {
  return cmd
    .option('-c, --config <path>', 'configuration file', defaults.config)
    .option(
      '-t, --check-config',
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
    .option(
      '--control <path>',
      'control socket (path, or host:port)',
      defaults.control,
    )
    .addOption(remoteOption('control'))
    .addOption(remoteOption('metrics'))
    .hook('preAction', () => permitRemoteFlags(cmd))
}

function remoteOption(what: 'control' | 'metrics'): Option {
  return new Option(
    `--${what}-allow-remote`,
    `allow a non-loopback --${what} address (it has no authentication)`,
  )
}

/**
 * Adds --control-allow-remote and --metrics-allow-remote to a program that
 * builds its own --control/--metrics (addDaemonOptions already has them).
 */
export function addRemoteListenOptions(cmd: Command): Command {
  return cmd
    .addOption(remoteOption('control'))
    .addOption(remoteOption('metrics'))
    .hook('preAction', () => permitRemoteFlags(cmd))
}

/**
 * Records the operator's explicit consent for the addresses given with
 * --control/--metrics, so runDaemon's listeners accept them.
 */
function permitRemoteFlags(cmd: Command): void {
  const o = cmd.opts<{
    control?: unknown
    metrics?: unknown
    controlAllowRemote?: boolean
    metricsAllowRemote?: boolean
  }>()
  if (o.controlAllowRemote && typeof o.control === 'string')
    permitRemoteListen('control', o.control)
  if (o.metricsAllowRemote && typeof o.metrics === 'string')
    permitRemoteListen('metrics', o.metrics)
}

/** Adds --control to a query subcommand (status and friends). */
export function addControlOption(
  cmd: Command,
  defaultControl: string,
): Command {
  return cmd
    .option(
      '--control <path>',
      'control socket of the running daemon',
      defaultControl,
    )
    .option(
      '--control-allow-unsafe',
      'talk to a control socket whose directory others may write, or that another user owns',
    )
    .hook('preAction', inheritControl)
    .hook('preAction', (sub: Command) => {
      if (
        sub.getOptionValue('controlAllowUnsafe') === true ||
        sub.parent?.getOptionValue('controlAllowUnsafe') === true
      ) {
        allowUnsafeControlPaths()
      }
    })
}

/**
 * `daemon --control X status` puts X on the program, not the subcommand;
 * without this the subcommand would silently ask its default socket.
 * A --control given after the subcommand still wins.
 */
export function inheritControl(sub: Command): void {
  const parent = sub.parent
  if (
    parent &&
    sub.getOptionValueSource('control') !== 'cli' &&
    parent.getOptionValueSource('control') === 'cli'
  ) {
    sub.setOptionValueWithSource(
      'control',
      parent.getOptionValue('control'),
      'cli',
    )
  }
}

/** Reads `version` from the package.json next to dist/. */
export function packageVersion(importMetaUrl: string): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../package.json', importMetaUrl), 'utf8'),
  ) as { version?: string }
  return pkg.version ?? '0.0.0'
}

/**
 * Runs a commander program in-process and maps every outcome to an exit
 * status: usage errors 2, config errors 3, coded errors their own, others 1.
 * `state.exitCode` is what the action set.
 */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: CliIo,
  state: { exitCode: number },
): Promise<number> {
  program.exitOverride()
  program.configureOutput({ writeOut: io.out, writeErr: io.err })
  for (const c of program.commands) {
    c.exitOverride()
    c.configureOutput({ writeOut: io.out, writeErr: io.err })
  }
  try {
    await program.parseAsync([...argv])
    return state.exitCode
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE
    }
    return reportError(e, io)
  }
}

/** Prints an error for a human and returns its exit status. */
export function reportError(e: unknown, io: CliIo): number {
  if (
    e instanceof ConfigError ||
    (hasCode(e) && e.code === 'KIT_ERR_CONFIG_INVALID')
  ) {
    const issues = (e as ConfigError).issues
    io.err(
      issues
        ? `invalid configuration:\n${issues.map(i => `  ${formatIssue(i)}\n`).join('')}`
        : `${e.message}\n`,
    )
    return EXIT.CONFIG
  }
  if (
    e instanceof HasError ||
    (hasCode(e) && typeof (e as HasError).exitCode === 'number')
  ) {
    const he = e as HasError
    io.err(`${he.code}: ${he.message}\n`)
    return he.exitCode
  }
  if (hasCode(e)) {
    io.err(`${e.code}: ${e.message}\n`)
    return EXIT.RUNTIME
  }
  io.err(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  return EXIT.RUNTIME
}

/** --check-config: loads, prints `<path>: configuration OK`, returns 0 or 3. */
export async function checkConfig(
  load: () => Promise<unknown>,
  path: string,
  io: CliIo,
): Promise<number> {
  try {
    await load()
    io.out(`${path}: configuration OK\n`)
    return EXIT.OK
  } catch (e) {
    return reportError(e, io)
  }
}

/**
 * For bin.ts: after main() resolves, leave a grace period for logs to
 * flush, then exit even if a stray handle would keep the loop alive.
 */
export function exitSoon(code: number): void {
  process.exitCode = code
  setTimeout(() => process.exit(code), 500).unref()
}

/** Formats rows as an aligned text table (status output, ipvsadm-like). */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly unknown[])[],
): string {
  const cells = [header, ...rows.map(r => r.map(c => String(c ?? '')))]
  const widths = header.map((_, i) =>
    Math.max(...cells.map(r => (r[i] ?? '').length)),
  )
  return (
    cells
      .map(r =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}
