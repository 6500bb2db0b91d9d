// The sync datagram codec (PROTOCOL.md). Pure: bytes in, records out.
//
//   header  magic "HCS1" | type u8 | flags u8 | epoch u64 | seq u32 |
//           sender-len u8 | sender | count u16
//   records count x (kind u8 | body)
//   trailer HMAC over everything before it (length by algorithm)

import { createHmac, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { HmacAlgorithm } from '@has/daemon-kit'
import type { Flow, PersistEntry } from './flow.js'
import { isAddress, isNodeName, isPort, isServiceName } from './grammar.js'

export const MAGIC = Buffer.from('HCS1', 'ascii')
export const MSG_DATA = 1
export const MSG_RESYNC_REQUEST = 2
export const FLAG_RESYNC = 1
/** With FLAG_RESYNC: the last datagram of a full table (the table is complete). */
export const FLAG_RESYNC_END = 2
const KNOWN_FLAGS = FLAG_RESYNC | FLAG_RESYNC_END

export const REC_FLOW = 1
export const REC_REMOVE = 2
export const REC_PERSIST = 3

export const MAC_LENGTH: Readonly<Record<HmacAlgorithm, number>> = {
  sha256: 32,
  sha1: 20,
  sha512: 64,
}
/** Smallest datagram limit accepted (one IPv6 flow record must fit). */
export const MIN_DATAGRAM = 256
export const MAX_DATAGRAM = 65000
/** Largest FLOW timeout (seconds) a receiver accepts: entry-timeout's maximum. */
export const MAX_FLOW_TIMEOUT = 432_000
/** Largest PERSIST ttl (seconds): traffic-manager's persist-set maximum. */
export const MAX_PERSIST_TTL = 86_400

export type SyncRecord =
  | { readonly kind: 'flow'; readonly flow: Flow }
  | {
      readonly kind: 'remove'
      readonly flow: Pick<
        Flow,
        'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport'
      >
    }
  | { readonly kind: 'persist'; readonly entry: PersistEntry }

export interface Message {
  readonly type: typeof MSG_DATA | typeof MSG_RESYNC_REQUEST
  readonly flags: number
  /** Sender start time in ms; a larger epoch means the sender restarted. u64 on the wire, so a bigint. */
  readonly epoch: bigint
  readonly seq: number
  readonly sender: string
  readonly records: readonly SyncRecord[]
}

export class ProtocolError extends Error {
  constructor(
    readonly reason: 'short' | 'magic' | 'auth' | 'type' | 'header' | 'record',
    message: string,
  ) {
    super(message)
    this.name = 'ProtocolError'
  }
}

/** Writes an address of `family` at `off` (4 or 16 bytes), in place. */
function writeIp(b: Buffer, off: number, family: 4 | 6, addr: string): void {
  if (family === 4) {
    const parts = addr.split('.')
    for (let i = 0; i < 4; i++) b[off + i] = Number(parts[i])
    return
  }
  // Expand :: then write 8 groups.
  const [head, tail] = addr.includes('::')
    ? addr.split('::')
    : [addr, undefined]
  const h = head ? head.split(':') : []
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups =
    tail === undefined
      ? h
      : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl]
  if (groups.length > 8) throw new RangeError(`not an IPv6 address: ${addr}`)
  b.fill(0, off, off + 16)
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), off + i * 2))
}

/**
 * The address at `off` (the reader checked the length). Read in place, no
 * Buffer view: a 10,000-flow resync decodes 40,000 of these.
 */
function ipText(family: 4 | 6, b: Buffer, off: number): string {
  if (family === 4)
    return `${b[off] ?? 0}.${b[off + 1] ?? 0}.${b[off + 2] ?? 0}.${b[off + 3] ?? 0}`
  const g: string[] = []
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(off + i).toString(16))
  // Compress the longest run of zero groups (RFC 5952 style).
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (g[i] !== '0') {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === '0') j++
    if (j - i > bestLen && j - i > 1) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  if (best < 0) return g.join(':')
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8')
  if (b.length > 255)
    throw new RangeError(`string longer than 255 bytes: ${s.slice(0, 40)}`)
  return Buffer.concat([Buffer.from([b.length]), b])
}

/** Encodes one record (no header). */
export function encodeRecord(r: SyncRecord): Buffer {
  if (r.kind === 'persist') {
    const ttl = Buffer.alloc(4)
    ttl.writeUInt32BE(
      Math.max(0, Math.min(0xffffffff, Math.round(r.entry.ttl))),
    )
    return Buffer.concat([
      Buffer.from([REC_PERSIST]),
      str(r.entry.service),
      str(r.entry.client),
      str(r.entry.node),
      ttl,
    ])
  }
  // One buffer per record (a resync encodes 10,000): kind, family, proto,
  // src, dst, ports, then for FLOW natDst, natSrc, nat ports, timeout.
  const f = r.flow
  const n = f.family === 4 ? 4 : 16
  const head = 3 + 2 * n + 4
  const b = Buffer.allocUnsafe(r.kind === 'remove' ? head : head + 2 * n + 8)
  b[0] = r.kind === 'flow' ? REC_FLOW : REC_REMOVE
  b[1] = f.family
  b[2] = f.proto
  writeIp(b, 3, f.family, f.src)
  writeIp(b, 3 + n, f.family, f.dst)
  b.writeUInt16BE(f.sport, 3 + 2 * n)
  b.writeUInt16BE(f.dport, 5 + 2 * n)
  if (r.kind === 'remove') return b
  const fl = r.flow
  writeIp(b, head, fl.family, fl.natDst)
  writeIp(b, head + n, fl.family, fl.natSrc)
  b.writeUInt16BE(fl.natDport, head + 2 * n)
  b.writeUInt16BE(fl.natSport, head + 2 * n + 2)
  b.writeUInt32BE(
    Math.max(0, Math.min(0xffffffff, Math.round(fl.timeout))),
    head + 2 * n + 4,
  )
  return b
}

/** The header of a message to encode: the epoch may be given as a number. */
export type HeaderFields = Omit<Message, 'records' | 'epoch'> & {
  readonly epoch: bigint | number
}

export function encodeHeader(m: HeaderFields, count: number): Buffer {
  const fixed = Buffer.alloc(4 + 1 + 1 + 8 + 4)
  MAGIC.copy(fixed, 0)
  fixed.writeUInt8(m.type, 4)
  fixed.writeUInt8(m.flags, 5)
  fixed.writeBigUInt64BE(BigInt(m.epoch), 6)
  fixed.writeUInt32BE(m.seq >>> 0, 14)
  const c = Buffer.alloc(2)
  c.writeUInt16BE(count)
  return Buffer.concat([fixed, str(m.sender), c])
}

export function sign(
  body: Buffer,
  alg: HmacAlgorithm,
  key: string | Buffer,
): Buffer {
  return Buffer.concat([body, createHmac(alg, key).update(body).digest()])
}

/** Encodes a whole message (callers batch records so it fits; see batch.ts). */
export function encodeMessage(
  m: HeaderFields & { readonly records: readonly SyncRecord[] },
  alg: HmacAlgorithm,
  key: string | Buffer,
): Buffer {
  const recs = m.records.map(encodeRecord)
  return sign(Buffer.concat([encodeHeader(m, recs.length), ...recs]), alg, key)
}

class Reader {
  off = 0
  /** What a truncation is: the header is `short`, a record is a bad `record`. */
  reason: 'short' | 'record' = 'short'
  constructor(readonly b: Buffer) {}
  need(n: number): void {
    if (this.off + n > this.b.length)
      throw new ProtocolError(
        this.reason,
        this.reason === 'short' ? 'header truncated' : 'record truncated',
      )
  }
  u8(): number {
    this.need(1)
    return this.b.readUInt8(this.off++)
  }
  u16(): number {
    this.need(2)
    const v = this.b.readUInt16BE(this.off)
    this.off += 2
    return v
  }
  u32(): number {
    this.need(4)
    const v = this.b.readUInt32BE(this.off)
    this.off += 4
    return v
  }
  u64(): bigint {
    this.need(8)
    const v = this.b.readBigUInt64BE(this.off)
    this.off += 8
    return v
  }
  bytes(n: number): Buffer {
    this.need(n)
    const v = this.b.subarray(this.off, this.off + n)
    this.off += n
    return v
  }
  /** An address of `family`, read in place. */
  ip(family: 4 | 6): string {
    const n = family === 4 ? 4 : 16
    this.need(n)
    const v = ipText(family, this.b, this.off)
    this.off += n
    return v
  }
  str(): string {
    return this.bytes(this.u8()).toString('utf8')
  }
}

function family(n: number): 4 | 6 {
  if (n !== 4 && n !== 6) throw new ProtocolError('record', `bad family ${n}`)
  return n
}

/** Verifies the MAC and decodes; throws ProtocolError on anything wrong. */
export function decodeMessage(
  buf: Buffer,
  alg: HmacAlgorithm,
  key: string | Buffer,
): Message {
  const macLen = MAC_LENGTH[alg]
  if (buf.length < 22 + macLen)
    throw new ProtocolError('short', 'datagram too short')
  if (!buf.subarray(0, 4).equals(MAGIC))
    throw new ProtocolError('magic', 'bad magic')
  const body = buf.subarray(0, buf.length - macLen)
  const mac = buf.subarray(buf.length - macLen)
  const want = createHmac(alg, key).update(body).digest()
  if (!timingSafeEqual(want, mac)) throw new ProtocolError('auth', 'bad HMAC')
  const r = new Reader(body)
  r.off = 4
  const type = r.u8()
  if (type !== MSG_DATA && type !== MSG_RESYNC_REQUEST)
    throw new ProtocolError('type', `unknown type ${type}`)
  const flags = r.u8()
  if (
    (flags & ~KNOWN_FLAGS) !== 0 ||
    (flags & FLAG_RESYNC_END && !(flags & FLAG_RESYNC))
  )
    throw new ProtocolError('header', `bad flags ${flags}`)
  const epoch = r.u64()
  if (epoch === 0n) throw new ProtocolError('header', 'epoch 0')
  const seq = r.u32()
  if (seq === 0) throw new ProtocolError('header', 'seq 0')
  const sender = r.str()
  if (!isNodeName(sender))
    throw new ProtocolError('header', 'sender is not a node name')
  const count = r.u16()
  if (type === MSG_RESYNC_REQUEST && (count !== 0 || flags !== 0))
    throw new ProtocolError(
      'header',
      'a resync request carries no records or flags',
    )
  r.reason = 'record'
  const records: SyncRecord[] = []
  for (let i = 0; i < count; i++) records.push(readRecord(r))
  if (r.off !== body.length)
    throw new ProtocolError('record', 'trailing bytes after the last record')
  return { type: type as Message['type'], flags, epoch, seq, sender, records }
}

function bad(what: string): never {
  throw new ProtocolError('record', what)
}

/** One record, every field checked against its grammar. */
function readRecord(r: Reader): SyncRecord {
  const kind = r.u8()
  if (kind === REC_PERSIST) {
    const service = r.str()
    const client = r.str()
    const node = r.str()
    const ttl = r.u32()
    if (!isServiceName(service)) bad('PERSIST service is not <address>:<port>')
    if (!isAddress(client)) bad('PERSIST client is not an address')
    if (!isAddress(node)) bad('PERSIST node is not an address')
    if (ttl > MAX_PERSIST_TTL) bad(`PERSIST ttl above ${MAX_PERSIST_TTL}`)
    return { kind: 'persist', entry: { service, client, node, ttl } }
  }
  if (kind !== REC_FLOW && kind !== REC_REMOVE)
    bad(`unknown record kind ${kind}`)
  const fam = family(r.u8())
  const proto = r.u8()
  if (proto !== 6 && proto !== 17) bad(`protocol ${proto} is not tcp or udp`)
  const src = r.ip(fam)
  const dst = r.ip(fam)
  const sport = r.u16()
  const dport = r.u16()
  if (!isPort(sport) || !isPort(dport)) bad('port 0')
  if (kind === REC_REMOVE)
    return {
      kind: 'remove',
      flow: { family: fam, proto, src, dst, sport, dport },
    }
  const natDst = r.ip(fam)
  const natSrc = r.ip(fam)
  const natDport = r.u16()
  const natSport = r.u16()
  const timeout = r.u32()
  if (!isPort(natDport) || !isPort(natSport)) bad('port 0')
  if (timeout < 1 || timeout > MAX_FLOW_TIMEOUT)
    bad(`timeout outside 1..${MAX_FLOW_TIMEOUT}`)
  return {
    kind: 'flow',
    flow: {
      family: fam,
      proto,
      src,
      dst,
      sport,
      dport,
      natDst,
      natDport,
      natSrc,
      natSport,
      timeout,
    },
  }
}

/** True when every address of a flow parses for its family. */
export function validFlowAddresses(
  f: Pick<Flow, 'family' | 'src' | 'dst'> &
    Partial<Pick<Flow, 'natDst' | 'natSrc'>>,
): boolean {
  return [f.src, f.dst, f.natDst, f.natSrc].every(
    a => a === undefined || isIP(a) === f.family,
  )
}
