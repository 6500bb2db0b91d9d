// Packs records into as few datagrams as the size limit allows (many
// entries per datagram, never above the MTU-derived limit).

import type { HmacAlgorithm } from '@has/daemon-kit'
import {
  encodeHeader,
  encodeRecord,
  MAC_LENGTH,
  sign,
  type Message,
  type SyncRecord,
} from './protocol.js'

export interface BatchHeader {
  readonly type: Message['type']
  readonly flags: number
  readonly epoch: bigint | number
  readonly sender: string
}

/**
 * Splits records into signed datagrams of at most `maxBytes`; `nextSeq`
 * stamps each one. No records is one datagram (a resync request, or the
 * answer of an empty table). `lastFlags` are added to the last datagram
 * only (FLAG_RESYNC_END: the receiver knows the table is complete).
 */
export function packDatagrams(
  header: BatchHeader,
  records: readonly SyncRecord[],
  maxBytes: number,
  alg: HmacAlgorithm,
  key: string | Buffer,
  nextSeq: () => number,
  lastFlags = 0,
): Buffer[] {
  const fixed = encodeHeader({ ...header, seq: 0 }, 0).length + MAC_LENGTH[alg]
  const out: Buffer[] = []
  let parts: Buffer[] = []
  let size = fixed
  const flush = (last: boolean): void => {
    const flags = last ? header.flags | lastFlags : header.flags
    const body = Buffer.concat([
      encodeHeader({ ...header, flags, seq: nextSeq() }, parts.length),
      ...parts,
    ])
    out.push(sign(body, alg, key))
    parts = []
    size = fixed
  }
  for (const r of records) {
    const enc = encodeRecord(r)
    if (
      parts.length > 0 &&
      (size + enc.length > maxBytes || parts.length === 0xffff)
    )
      flush(false)
    parts.push(enc)
    size += enc.length
  }
  flush(true)
  return out
}
