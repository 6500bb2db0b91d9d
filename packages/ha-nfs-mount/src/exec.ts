// Runs a helper (mount, umount, stat, rsync) as a child process with a hard
// timeout. On timeout the child gets SIGKILL and we return at once: a
// process stuck on a dead NFS server may sit in D state and never exit, and
// the daemon must not wait for it.

import { spawn } from 'node:child_process'

export interface ExecResult {
  /** Exit code; null when killed by a signal or timed out. */
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
  /** spawn failed: ENOENT (helper missing), EACCES... */
  readonly spawnError?: string
  readonly ms: number
}

const MAX_OUTPUT = 64 * 1024

export function execCommand(
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<ExecResult> {
  const started = performance.now()
  return new Promise(resolve => {
    let stdout = ''
    let stderr = ''
    let done = false
    const finish = (r: Omit<ExecResult, 'stdout' | 'stderr' | 'ms'>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ ...r, stdout, stderr, ms: performance.now() - started })
    }
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish({ code: null, timedOut: true })
    }, timeoutMs)
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += c.toString()
    })
    child.once('error', e =>
      finish({
        code: null,
        timedOut: false,
        spawnError: (e as NodeJS.ErrnoException).code ?? e.message,
      }),
    )
    child.once('close', code => finish({ code, timedOut: false }))
  })
}
