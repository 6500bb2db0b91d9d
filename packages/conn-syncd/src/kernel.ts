// The conntrack(8) process boundary: an event follower, dumps, and batched
// changes on the receiving side. A batch is one `conntrack -R <file>`
// process (conntrack-tools >= 1.4.7 load-file) whatever its size: 10,000
// flows take about 0.25 s, where one process per flow took minutes. The
// batch goes through a file in a private directory: conntrack opens
// /dev/stdin by name, which fails on the socket Node gives a child as stdin.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LineSplitter } from '@has/daemon-kit'
import type { Logger } from '@has/daemon-kit'
import { batchLine, deleteArgs, parseConntrackRow, type ConntrackRow, type KernelOp } from './conntrack.js'

export interface Kernel {
  follow(onRow: (row: ConntrackRow) => void): void
  dump(): Promise<ConntrackRow[]>
  /** Applies the ops in order; one result per op (true: applied). */
  apply(ops: readonly KernelOp[]): Promise<boolean[]>
  close(): void
}

function runConntrack(bin: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(bin, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', e => resolve({ code: -1, stdout, stderr: e.message }))
    child.once('close', code => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/**
 * `conntrack -R` stops at the first line that fails (an insert whose reply
 * tuple another entry holds, say) and does not say which: a failed batch is
 * split in halves and retried (every op is idempotent), so one bad flow
 * costs log2(n) extra processes and never the rest of the batch.
 */
export async function applyBisecting(
  ops: readonly KernelOp[],
  run: (ops: readonly KernelOp[]) => Promise<{ ok: boolean; detail: string }>,
  onFail: (op: KernelOp, detail: string) => void,
): Promise<boolean[]> {
  if (ops.length === 0) return []
  const r = await run(ops)
  if (r.ok) return ops.map(() => true)
  if (ops.length === 1) {
    onFail(ops[0] as KernelOp, r.detail)
    return [false]
  }
  const mid = ops.length >> 1
  return [...(await applyBisecting(ops.slice(0, mid), run, onFail)), ...(await applyBisecting(ops.slice(mid), run, onFail))]
}

export function conntrackKernel(bin: string, timeoutS: number, logger: Logger): Kernel {
  let follower: ChildProcess | undefined
  let closed = false
  // Mode 0700 (mkdtemp): nobody else can swap the batch file.
  const dir = mkdtempSync(join(tmpdir(), 'conn-syncd-'))
  const file = join(dir, 'batch')
  // One batch at a time (chained), so one file serves them all.
  let chain: Promise<unknown> = Promise.resolve()
  const run = (ops: readonly KernelOp[]): Promise<{ ok: boolean; detail: string }> => {
    const next = chain.then(async () => {
      await writeFile(file, ops.map(batchLine).join('\n') + '\n', { mode: 0o600 })
      const r = await runConntrack(bin, ['-R', file])
      return { ok: r.code === 0, detail: r.stderr.trim() }
    })
    chain = next.catch(() => undefined)
    return next
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
    async apply(ops) {
      const failed: KernelOp[] = []
      const res = await applyBisecting(ops, run, op => failed.push(op))
      // An insert that met an entry (stale window state): delete it and insert again, alone.
      for (const op of failed) {
        const i = ops.indexOf(op)
        if (op.op !== 'replace') continue
        const del = await runConntrack(bin, deleteArgs(op.flow))
        const again = await run([op])
        if (again.ok) res[i] = true
        else logger.debug({ line: batchLine(op), delete: del.code, stderr: again.detail }, 'conntrack insert failed')
      }
      return res
    },
    close() {
      closed = true
      follower?.kill('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
