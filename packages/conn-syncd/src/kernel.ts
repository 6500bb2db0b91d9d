// The conntrack(8) process boundary: an event follower, dumps, and batched
// changes on the receiving side. A batch is one `conntrack -R <file>`
// process (conntrack-tools >= 1.4.7 load-file) whatever its size: 10,000
// flows take about 0.25 s, where one process per flow took minutes. The
// batch goes through a file in a private directory: conntrack opens
// /dev/stdin by name, which fails on the socket Node gives a child as stdin.
// The directory exists only while its batch runs, so a daemon killed with
// -9 (or a crash) leaves nothing in /tmp but for a batch in flight.

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LineSplitter } from '@has/daemon-kit'
import type { Logger } from '@has/daemon-kit'
import {
  batchLine,
  deleteArgs,
  origDst,
  parseConntrackRow,
  type ConntrackRow,
  type KernelOp,
} from './conntrack.js'
import { flowKey, PROTO_NAMES, type Flow, type FlowKey } from './flow.js'

export interface Kernel {
  /**
   * Follows conntrack events; with `wants`, a line whose original
   * destination it refuses is dropped before it is parsed.
   */
  follow(
    onRow: (row: ConntrackRow) => void,
    wants?: (dst: string) => boolean,
  ): void
  dump(): Promise<ConntrackRow[]>
  /** Applies the ops in order; one result per op (true: applied). */
  apply(ops: readonly KernelOp[]): Promise<boolean[]>
  /** Deletes every entry of these services (one table walk each); the number deleted. */
  purge(services: readonly ServiceTuple[]): Promise<number>
  close(): void
}

function runConntrack(
  bin: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
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

/** Whether the kernel table already shows what an op wants (a flow with its mapping; a deleted flow gone). */
export function opDone(
  op: KernelOp,
  table: ReadonlyMap<FlowKey, Flow>,
): boolean {
  const k = table.get(flowKey(op.flow))
  if (op.op === 'delete') return k === undefined
  const f = op.flow
  // A refresh of a missing entry does not fail a run: present is enough.
  return (
    k !== undefined &&
    k.natDst === f.natDst &&
    k.natDport === f.natDport &&
    k.natSrc === f.natSrc &&
    k.natSport === f.natSport
  )
}

/**
 * `conntrack -R` applies lines in order and stops at the first that fails
 * (an insert meeting an entry with its tuple), without saying which. So
 * after a failed run one dump tells which ops are in (those before the
 * failure, and any the kernel already had); the rest run again. When the
 * first line of a run is still not in after it, that line is the one that
 * fails: it is reported and the others go on. Every round removes at least
 * one op, so at most ops.length rounds; usually one dump per failing op.
 * (Halving a failed batch instead would re-insert what the first run
 * applied, fail on it, and cost a process per op.)
 */
export async function applyInOrder(
  ops: readonly KernelOp[],
  run: (ops: readonly KernelOp[]) => Promise<{ ok: boolean; detail: string }>,
  table: () => Promise<ReadonlyMap<FlowKey, Flow>>,
  onFail: (op: KernelOp, detail: string) => void,
): Promise<boolean[]> {
  const res = ops.map(() => false)
  let todo = ops.map((_, i) => i)
  for (let round = 0; todo.length > 0 && round <= ops.length; round++) {
    const r = await run(todo.map(i => ops[i] as KernelOp))
    if (r.ok) {
      for (const i of todo) res[i] = true
      break
    }
    const now = await table()
    const first = todo[0]
    const next: number[] = []
    for (const i of todo) {
      if (opDone(ops[i] as KernelOp, now)) res[i] = true
      else next.push(i)
    }
    if (next[0] === first && first !== undefined) {
      onFail(ops[first] as KernelOp, r.detail)
      next.shift()
    }
    todo = next
  }
  return res
}

/** The services whose entries a purge removes (one table walk each). */
export type ServiceTuple = Pick<Flow, 'proto' | 'dst' | 'dport'>

export function conntrackKernel(
  bin: string,
  timeoutS: number,
  logger: Logger,
): Kernel {
  let follower: ChildProcess | undefined
  let closed = false
  // One batch at a time (chained), in order.
  let chain: Promise<unknown> = Promise.resolve()
  const run = (
    ops: readonly KernelOp[],
  ): Promise<{ ok: boolean; detail: string }> => {
    const next = chain.then(async () => {
      // Mode 0700 (mkdtemp): nobody else can swap the batch file.
      const dir = await mkdtemp(join(tmpdir(), 'conn-syncd-'))
      try {
        const file = join(dir, 'batch')
        await writeFile(file, ops.map(batchLine).join('\n') + '\n', {
          mode: 0o600,
        })
        const r = await runConntrack(bin, ['-R', file])
        return { ok: r.code === 0, detail: r.stderr.trim() }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
    chain = next.catch(() => undefined)
    return next
  }
  const dump = async (): Promise<ConntrackRow[]> => {
    const r = await runConntrack(bin, ['-L', '-o', 'extended'])
    return r.stdout.split('\n').flatMap(l => {
      const row = parseConntrackRow(l, timeoutS)
      return row ? [row] : []
    })
  }
  return {
    follow(onRow, wants) {
      const start = (): void => {
        if (closed) return
        const child = spawn(
          bin,
          ['-E', '-e', 'NEW,UPDATE,DESTROY', '-o', 'extended'],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        )
        follower = child
        const splitter = new LineSplitter(
          8192,
          line => {
            const dst = wants && origDst(line)
            if (dst && !wants(dst)) return
            const row = parseConntrackRow(line, timeoutS)
            if (row) onRow(row)
          },
          () => undefined,
        )
        child.stdout?.on('data', (c: Buffer) => splitter.push(c))
        child.stderr?.on('data', (c: Buffer) =>
          logger.debug({ stderr: c.toString().trim() }, 'conntrack -E'),
        )
        child.once('error', err =>
          logger.error({ err }, 'cannot run conntrack -E'),
        )
        child.once('close', code => {
          if (closed) return
          logger.warn(
            { code },
            'conntrack event follower ended; restarting in 1 s',
          )
          setTimeout(start, 1000).unref()
        })
      }
      start()
    },
    dump,
    async apply(ops) {
      const failed: KernelOp[] = []
      const table = async (): Promise<Map<FlowKey, Flow>> =>
        new Map((await dump()).map(r => [flowKey(r.flow), r.flow]))
      const res = await applyInOrder(ops, run, table, op => failed.push(op))
      // An insert that met an entry (stale window state, an old mapping):
      // delete it and insert again, alone. A delete walks the whole table
      // in conntrack 1.4.7, so this stays the exception.
      for (const op of failed) {
        const i = ops.indexOf(op)
        if (op.op !== 'replace') continue
        const del = await runConntrack(bin, deleteArgs(op.flow))
        const again = await run([op])
        if (again.ok) res[i] = true
        else
          logger.debug(
            { line: batchLine(op), delete: del.code, stderr: again.detail },
            'conntrack insert failed',
          )
      }
      return res
    },
    async purge(services) {
      let n = 0
      for (const s of services) {
        const args = [
          '-D',
          '-p',
          PROTO_NAMES[s.proto] ?? String(s.proto),
          '-d',
          s.dst,
          '--dport',
          String(s.dport),
        ]
        const p = chain.then(() => runConntrack(bin, args))
        chain = p.catch(() => undefined)
        const r = await p
        // Exit 1 with "0 flow entries have been deleted" is not an error.
        const m = /(\d+) flow entries have been deleted/.exec(r.stderr)
        if (m) n += Number(m[1])
        else
          logger.warn(
            { args, stderr: r.stderr.trim() },
            'conntrack purge failed',
          )
      }
      return n
    },
    close() {
      closed = true
      follower?.kill('SIGTERM')
    },
  }
}
