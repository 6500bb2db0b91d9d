// ONC RPC (RFC 5531) NULL call over TCP record marking, as a pure codec:
// build the call, reassemble fragments, parse the reply. The socket lives
// in rpc-client.ts. Only AUTH_NONE is sent; the NULL procedure takes no
// arguments and returns none, so a reply proves the program answers.

export const NFS_PROGRAM = 100003
export const RPC_VERSION = 2
/** Longest reply we accept; a NULL reply is 24 bytes plus a verifier. */
export const MAX_RECORD = 64 * 1024
const LAST_FRAGMENT = 0x80000000

export type AcceptStat =
  | 'SUCCESS'
  | 'PROG_UNAVAIL'
  | 'PROG_MISMATCH'
  | 'PROC_UNAVAIL'
  | 'GARBAGE_ARGS'
  | 'SYSTEM_ERR'

const ACCEPT_STATS: readonly AcceptStat[] = [
  'SUCCESS',
  'PROG_UNAVAIL',
  'PROG_MISMATCH',
  'PROC_UNAVAIL',
  'GARBAGE_ARGS',
  'SYSTEM_ERR',
]

export type RpcReply =
  | {
      readonly xid: number
      readonly kind: 'accepted'
      readonly stat: AcceptStat
      /** Versions the server supports, on PROG_MISMATCH. */
      readonly low?: number
      readonly high?: number
    }
  | {
      readonly xid: number
      readonly kind: 'denied'
      readonly reason: 'RPC_MISMATCH' | 'AUTH_ERROR'
      readonly low?: number
      readonly high?: number
      readonly authStat?: number
    }

export class RpcDecodeError extends Error {
  override readonly name = 'RpcDecodeError'
}

/** One NULL call (procedure 0, AUTH_NONE) framed as a single last fragment. */
export function buildNullCall(
  xid: number,
  version: number,
  program = NFS_PROGRAM,
): Buffer {
  const words = [
    xid >>> 0,
    0, // msg_type CALL
    RPC_VERSION,
    program,
    version,
    0, // procedure NULL
    0,
    0, // cred: AUTH_NONE, length 0
    0,
    0, // verf: AUTH_NONE, length 0
  ]
  const buf = Buffer.alloc(4 + words.length * 4)
  buf.writeUInt32BE((LAST_FRAGMENT | (words.length * 4)) >>> 0, 0)
  words.forEach((w, i) => buf.writeUInt32BE(w, 4 + i * 4))
  return buf
}

/**
 * Parses one reassembled record (without record marks). Throws
 * RpcDecodeError on anything that is not a well-formed RPC reply.
 */
export function parseReply(rec: Buffer): RpcReply {
  let off = 0
  const u32 = (what: string): number => {
    if (off + 4 > rec.length) throw new RpcDecodeError(`truncated at ${what}`)
    const v = rec.readUInt32BE(off)
    off += 4
    return v
  }
  const xid = u32('xid')
  if (u32('msg_type') !== 1) throw new RpcDecodeError('not a REPLY')
  const replyStat = u32('reply_stat')
  if (replyStat === 1) {
    const rejectStat = u32('reject_stat')
    if (rejectStat === 0) {
      return {
        xid,
        kind: 'denied',
        reason: 'RPC_MISMATCH',
        low: u32('low'),
        high: u32('high'),
      }
    }
    if (rejectStat === 1) {
      return {
        xid,
        kind: 'denied',
        reason: 'AUTH_ERROR',
        authStat: u32('auth_stat'),
      }
    }
    throw new RpcDecodeError(`unknown reject_stat ${rejectStat}`)
  }
  if (replyStat !== 0)
    throw new RpcDecodeError(`unknown reply_stat ${replyStat}`)
  u32('verf flavor')
  const verfLen = u32('verf length')
  if (verfLen > 400) throw new RpcDecodeError(`verifier too long (${verfLen})`)
  off += (verfLen + 3) & ~3
  if (off > rec.length) throw new RpcDecodeError('truncated verifier')
  const code = u32('accept_stat')
  const stat = ACCEPT_STATS[code]
  if (!stat) throw new RpcDecodeError(`unknown accept_stat ${code}`)
  if (stat === 'PROG_MISMATCH') {
    return { xid, kind: 'accepted', stat, low: u32('low'), high: u32('high') }
  }
  return { xid, kind: 'accepted', stat }
}

/**
 * Reassembles record-marked fragments from a byte stream. push() returns
 * the records completed by this chunk; a fragment or record over the
 * limit throws RpcDecodeError (the caller drops the connection).
 */
export class RecordReader {
  #buf: Buffer = Buffer.alloc(0)
  #parts: Buffer[] = []
  #size = 0
  constructor(readonly maxRecord = MAX_RECORD) {}

  push(chunk: Buffer): Buffer[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk
    const out: Buffer[] = []
    for (;;) {
      if (this.#buf.length < 4) break
      const mark = this.#buf.readUInt32BE(0)
      const len = mark & 0x7fffffff
      if (this.#size + len > this.maxRecord) {
        throw new RpcDecodeError(`record longer than ${this.maxRecord} bytes`)
      }
      if (this.#buf.length < 4 + len) break
      this.#parts.push(this.#buf.subarray(4, 4 + len))
      this.#size += len
      this.#buf = this.#buf.subarray(4 + len)
      if (mark & LAST_FRAGMENT) {
        out.push(Buffer.concat(this.#parts))
        this.#parts = []
        this.#size = 0
      }
    }
    return out
  }
}

/** What a probe makes of a reply: is this NFS version served? */
export function replyVerdict(r: RpcReply): { ok: boolean; detail: string } {
  if (r.kind === 'denied') return { ok: false, detail: `denied ${r.reason}` }
  if (r.stat === 'SUCCESS') return { ok: true, detail: 'SUCCESS' }
  if (r.stat === 'PROG_MISMATCH') {
    return { ok: false, detail: `PROG_MISMATCH ${r.low}-${r.high}` }
  }
  return { ok: false, detail: r.stat }
}
