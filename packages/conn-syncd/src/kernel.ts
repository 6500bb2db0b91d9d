// The conntrack(8) process boundary: an event follower, dumps, and the
// insert/refresh/delete calls on the receiving side.

import { spawn, type ChildProcess } from 'node:child_process'
import { LineSplitter } from '@has/daemon-kit'
import type { Logger } from '@has/daemon-kit'
import { deleteArgs, insertArgs, parseConntrackRow, refreshArgs, type ConntrackRow } from './conntrack.js'
import type { Flow } from './flow.js'

export interface Kernel {
  follow(onRow: (row: ConntrackRow) => void): void
  dump(): Promise<ConntrackRow[]>
  insert(f: Flow): Promise<boolean>
  refresh(f: Flow): Promise<boolean>
  remove(f: Flow): Promise<boolean>
  close(): void
}

function runConntrack(bin: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(bin, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', e => resolve({ code: -1, stdout, stderr: e.message }))
    child.once('close', code => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** At most `limit` conntrack processes at once (a resync brings hundreds). */
function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: (() => void)[] = []
  return async fn => {
    if (running >= limit) await new Promise<void>(r => waiting.push(r))
    running++
    try {
      return await fn()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

export function conntrackKernel(bin: string, timeoutS: number, logger: Logger): Kernel {
  let follower: ChildProcess | undefined
  let closed = false
  const limit = limiter(4)
  const ok = async (args: string[], what: string): Promise<boolean> => {
    const r = await limit(() => runConntrack(bin, args))
    if (r.code !== 0) logger.debug({ args: args.join(' '), stderr: r.stderr.trim() }, `conntrack ${what} failed`)
    return r.code === 0
  }
  return {
    follow(onRow) {
      const start = (): void => {
        if (closed) return
        const child = spawn(bin, ['-E', '-e', 'NEW,UPDATE,DESTROY', '-o', 'extended'], { stdio: ['ignore', 'pipe', 'pipe'] })
        follower = child
        const splitter = new LineSplitter(8192, line => {
          const row = parseConntrackRow(line, timeoutS)
          if (row) onRow(row)
        }, () => undefined)
        child.stdout?.on('data', (c: Buffer) => splitter.push(c))
        child.stderr?.on('data', (c: Buffer) => logger.debug({ stderr: c.toString().trim() }, 'conntrack -E'))
        child.once('error', err => logger.error({ err }, 'cannot run conntrack -E'))
        child.once('close', code => {
          if (closed) return
          logger.warn({ code }, 'conntrack event follower ended; restarting in 1 s')
          setTimeout(start, 1000).unref()
        })
      }
      start()
    },
    async dump() {
      const r = await runConntrack(bin, ['-L', '-o', 'extended'])
      return r.stdout.split('\n').flatMap(l => {
        const row = parseConntrackRow(l, timeoutS)
        return row ? [row] : []
      })
    },
    insert: f => ok(insertArgs(f), 'insert'),
    refresh: f => ok(refreshArgs(f), 'refresh'),
    remove: f => ok(deleteArgs(f), 'delete'),
    close() {
      closed = true
      follower?.kill('SIGTERM')
    },
  }
}
