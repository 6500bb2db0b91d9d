// A long-lived helper process spoken to in lines: one request written to
// its stdin, its answer read from stdout, answers in request order. Started
// before it is needed so that the takeover path spawns nothing; if it dies
// it is started again on the next request (the pending ones fail).

import { spawn, type ChildProcess } from 'node:child_process'

export interface LineHelper {
  /**
   * Writes `request` (one or more lines) and resolves with the lines of its
   * answer: `done(lines)` decides, for each line read, whether the answer
   * is complete. Rejects when the helper exits first.
   */
  ask(
    request: string,
    done: (lines: readonly string[]) => boolean,
  ): Promise<string[]>
  /** Starts the process now (else on the first ask). */
  warm(): void
  close(): void
}

interface Pending {
  readonly done: (lines: readonly string[]) => boolean
  readonly lines: string[]
  resolve(lines: string[]): void
  reject(err: Error): void
}

export function createLineHelper(
  cmd: string,
  args: readonly string[],
): LineHelper {
  let child: ChildProcess | undefined
  let closed = false
  const queue: Pending[] = []
  const start = (): ChildProcess => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] })
    let buf = ''
    c.stdout?.setEncoding('utf8')
    c.stdout?.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const p = queue[0]
        if (!p) continue // unasked output: not ours to answer
        p.lines.push(line)
        if (p.done(p.lines)) {
          queue.shift()
          p.resolve(p.lines)
        }
      }
    })
    // EPIPE on a dead helper surfaces as 'exit' below.
    c.stdin?.on('error', () => {})
    const gone = (why: string): void => {
      if (child === c) child = undefined
      for (const p of queue.splice(0)) p.reject(new Error(`${cmd} ${why}`))
    }
    c.on('error', e => gone(`failed: ${e.message}`))
    c.on('exit', (code, sig) => gone(`exited (${code ?? sig})`))
    return c
  }
  return {
    ask(request, done) {
      if (closed) return Promise.reject(new Error(`${cmd}: closed`))
      child ??= start()
      const c = child
      return new Promise((resolve, reject) => {
        queue.push({ done, lines: [], resolve, reject })
        c.stdin?.write(request)
      })
    },
    warm() {
      if (!closed) child ??= start()
    },
    close() {
      closed = true
      // Closing stdin ends both helpers (EOF); kill in case one hangs.
      const c = child
      child = undefined
      c?.stdin?.end()
      c?.kill('SIGTERM')
    },
  }
}
