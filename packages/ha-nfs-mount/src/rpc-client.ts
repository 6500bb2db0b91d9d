// The socket side of the NULL probe: one TCP connection per probe, one
// call per NFS version, a hard timeout over the whole exchange. A fresh
// connection each time means a killed server shows as ECONNREFUSED at once
// instead of waiting on a half-open socket.

import { connect } from 'node:net'
import {
  buildNullCall,
  NFS_PROGRAM,
  parseReply,
  RecordReader,
  replyVerdict,
  type RpcReply,
} from './rpc.js'

export interface NullProbeResult {
  readonly ok: boolean
  /** Per version: SUCCESS, PROG_MISMATCH 4-4, ... */
  readonly versions: Readonly<Record<string, string>>
  /** Connection or timeout error, when there was one. */
  readonly error?: string
  readonly ms: number
}

export interface NullProbeOptions {
  readonly host: string
  readonly port: number
  readonly versions: readonly number[]
  readonly timeoutMs: number
  readonly program?: number
}

let nextXid = (Math.random() * 0x7fffffff) >>> 0

export function rpcNullProbe(opts: NullProbeOptions): Promise<NullProbeResult> {
  const started = performance.now()
  return new Promise(resolve => {
    const pending = new Map<number, number>()
    const versions: Record<string, string> = {}
    const reader = new RecordReader()
    const socket = connect({ host: opts.host, port: opts.port })
    let settled = false
    const finish = (error?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      for (const v of pending.values()) versions[v] ??= 'no reply'
      const ok =
        error === undefined &&
        opts.versions.every(v => versions[v] === 'SUCCESS')
      resolve({
        ok,
        versions,
        ms: performance.now() - started,
        ...(error === undefined ? {} : { error }),
      })
    }
    const timer = setTimeout(
      () => finish(`timeout after ${opts.timeoutMs} ms`),
      opts.timeoutMs,
    )
    socket.setNoDelay(true)
    socket.once('connect', () => {
      for (const v of opts.versions) {
        const xid = (nextXid = (nextXid + 1) >>> 0)
        pending.set(xid, v)
        socket.write(buildNullCall(xid, v, opts.program ?? NFS_PROGRAM))
      }
    })
    socket.on('data', chunk => {
      let replies: RpcReply[]
      try {
        replies = reader.push(chunk).map(parseReply)
      } catch (e) {
        finish(`bad reply: ${(e as Error).message}`)
        return
      }
      for (const r of replies) {
        const v = pending.get(r.xid)
        if (v === undefined) continue // stale or foreign xid: ignore
        pending.delete(r.xid)
        versions[v] = replyVerdict(r).detail
      }
      if (pending.size === 0) finish()
    })
    socket.once('error', e =>
      finish((e as NodeJS.ErrnoException).code ?? e.message),
    )
    socket.once('close', () =>
      finish(pending.size ? 'connection closed' : undefined),
    )
  })
}
