// Spawning the real binaries in tests and waiting on their JSON log lines
// (events, never sleeps). Every process started here is killed by PID in
// teardown.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { tmpdir } from 'node:os'

// dist/daemon.js -> packages/test-support -> packages -> the repository.
export const ROOT = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
)

// Daemons persist their sender epoch (daemon-kit senderEpoch) under
// HAS_STATE_DIR; tests keep it out of /var/lib/has. Children inherit it.
process.env.HAS_STATE_DIR ??= join(tmpdir(), 'has-test-state')

/** Path of a package's built binary (npm test builds before running tap). */
export function binPath(pkg: string): string {
  return join(ROOT, 'packages', pkg, 'dist', 'bin.js')
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number }

export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  readonly logs: LogLine[]
  readonly stderr: string[]
  /** Resolves with the first log line (past or future) matching pred. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>
  readonly exited: Promise<number | string>
}

export interface SpawnDaemonOptions extends SpawnOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string
  /** Echo the child's output to ours (debugging). */
  echo?: boolean
}

export function spawnDaemon(
  pkg: string,
  args: readonly string[],
  opts: SpawnDaemonOptions = {},
): Proc {
  return spawnScript(binPath(pkg), args, opts)
}

/** Any Node script (a daemon or a test fixture), optionally in a namespace. */
export function spawnScript(
  script: string,
  args: readonly string[],
  opts: SpawnDaemonOptions = {},
): Proc {
  const argv = [script, ...args]
  const child = opts.netns
    ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...opts,
      })
    : spawn(process.execPath, argv, {
        stdio: ['ignore', 'pipe', 'pipe'],
        ...opts,
      })
  return track(child, opts.echo)
}

/** Wraps any spawned child with the same log-waiting helpers. */
export function track(child: ChildProcess, echo = false): Proc {
  const logs: LogLine[] = []
  const stderr: string[] = []
  const waiters = new Set<{
    pred: (l: LogLine) => boolean
    resolve: (l: LogLine) => void
  }>()
  let buf = ''
  child.stdout?.on('data', (c: Buffer) => {
    if (echo) process.stderr.write(c)
    buf += c.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let parsed: LogLine
      try {
        parsed = JSON.parse(line) as LogLine
      } catch {
        parsed = { msg: line, raw: true }
      }
      logs.push(parsed)
      for (const w of waiters) {
        if (w.pred(parsed)) {
          waiters.delete(w)
          w.resolve(parsed)
        }
      }
    }
  })
  child.stderr?.on('data', (c: Buffer) => {
    if (echo) process.stderr.write(c)
    stderr.push(c.toString())
  })
  const exited = new Promise<number | string>(resolve => {
    child.once('exit', (code, sig) => resolve(code ?? sig ?? -1))
  })
  return {
    child,
    pid: child.pid as number,
    logs,
    stderr,
    exited,
    waitLog(pred, timeoutMs = 15_000) {
      const found = logs.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)),
        }
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(
            new Error(
              `no matching log line within ${timeoutMs} ms; last lines:\n` +
                logs
                  .slice(-10)
                  .map(l => JSON.stringify(l))
                  .join('\n') +
                '\nstderr: ' +
                stderr.join(''),
            ),
          )
        }, timeoutMs)
        waiters.add(w)
        void exited.then(() => {
          if (waiters.has(w)) {
            waiters.delete(w)
            clearTimeout(timer)
            reject(
              new Error(
                `process exited before the log line; stderr: ${stderr.join('')}`,
              ),
            )
          }
        })
      })
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null)
        child.kill(signal)
      return exited
    },
  }
}

/** Runs a command to completion; resolves with code and output. */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const [code] = (await once(child, 'close')) as [number | null]
  return { code: code ?? -1, stdout, stderr }
}

/** Runs a package's CLI to completion (status, --check-config...). */
export function runBin(
  pkg: string,
  args: readonly string[],
  opts: SpawnOptions = {},
) {
  return run(process.execPath, [binPath(pkg), ...args], opts)
}
