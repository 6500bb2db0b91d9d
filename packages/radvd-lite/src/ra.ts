// Router Advertisement codec (RFC 4861 4.2 and 4.6, RFC 4191 2.3, RFC
// 8106 5). Pure: bytes in, bytes out. The kernel fills in the ICMPv6
// checksum on send, so the builder leaves it 0. Options go in radvd's
// order (prefix, route, RDNSS, DNSSL, MTU, source link-layer address) so
// captures of both daemons compare byte for byte.

import { formatIpv6, ipv6Bytes, type Preference } from './config.js'

export const ICMP6_RS = 133
export const ICMP6_RA = 134
export const OPT_SLLA = 1
export const OPT_TLLA = 2
export const OPT_PREFIX = 3
export const OPT_MTU = 5
export const OPT_ROUTE = 24
export const OPT_RDNSS = 25
export const OPT_DNSSL = 31

export interface RaPrefix {
  readonly prefix: string
  readonly length: number
  readonly onLink: boolean
  readonly autonomous: boolean
  readonly routerAddr: boolean
  readonly valid: number
  readonly preferred: number
}

export interface RaRoute {
  readonly prefix: string
  readonly length: number
  readonly preference: Preference
  readonly lifetime: number
}

export interface RaContent {
  readonly curHopLimit: number
  readonly managed: boolean
  readonly other: boolean
  readonly preference: Preference
  /** seconds, 0: not a default router */
  readonly routerLifetime: number
  /** ms */
  readonly reachableTime: number
  readonly retransTimer: number
  readonly prefixes: readonly RaPrefix[]
  readonly routes: readonly RaRoute[]
  readonly rdnss: readonly {
    readonly servers: readonly string[]
    readonly lifetime: number
  }[]
  readonly dnssl: readonly {
    readonly domains: readonly string[]
    readonly lifetime: number
  }[]
  readonly mtu?: number
  /** Source link-layer address (6 bytes on Ethernet). */
  readonly sourceLL?: string
}

// Preference in the 2-bit field: 01 high, 00 medium, 11 low (RFC 4191 2.1).
const PRF: Record<Preference, number> = { high: 0b01, medium: 0b00, low: 0b11 }
const PRF_NAME: Record<number, Preference> = {
  0b01: 'high',
  0b00: 'medium',
  0b11: 'low',
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map(h => parseInt(h, 16)))
}

function formatMac(b: Buffer): string {
  return [...b].map(x => x.toString(16).padStart(2, '0')).join(':')
}

/** DNS wire form of a list of names (RFC 1035 3.1), no compression. */
function encodeDomains(domains: readonly string[]): Buffer {
  const parts: Buffer[] = []
  for (const d of domains) {
    for (const label of d.split('.').filter(Boolean)) {
      parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'))
    }
    parts.push(Buffer.from([0]))
  }
  return Buffer.concat(parts)
}

/** Pads an option body so the whole option is a multiple of 8 bytes. */
function option(type: number, body: Buffer): Buffer {
  const total = Math.ceil((body.length + 2) / 8) * 8
  const out = Buffer.alloc(total)
  out[0] = type
  out[1] = total / 8
  body.copy(out, 2)
  return out
}

export function buildRa(ra: RaContent): Buffer {
  const head = Buffer.alloc(16)
  head[0] = ICMP6_RA
  head[4] = ra.curHopLimit
  head[5] =
    (ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0) | (PRF[ra.preference] << 3)
  head.writeUInt16BE(ra.routerLifetime, 6)
  head.writeUInt32BE(ra.reachableTime, 8)
  head.writeUInt32BE(ra.retransTimer, 12)
  const opts: Buffer[] = [head]
  for (const p of ra.prefixes) {
    const b = Buffer.alloc(30)
    b[0] = p.length
    b[1] =
      (p.onLink ? 0x80 : 0) |
      (p.autonomous ? 0x40 : 0) |
      (p.routerAddr ? 0x20 : 0)
    b.writeUInt32BE(p.valid, 2)
    b.writeUInt32BE(p.preferred, 6)
    ipv6Bytes(p.prefix).copy(b, 14)
    opts.push(option(OPT_PREFIX, b))
  }
  for (const r of ra.routes) {
    // Always the full 16-byte prefix (length 3), as radvd sends it.
    const b = Buffer.alloc(22)
    b[0] = r.length
    b[1] = PRF[r.preference] << 3
    b.writeUInt32BE(r.lifetime, 2)
    ipv6Bytes(r.prefix).copy(b, 6)
    opts.push(option(OPT_ROUTE, b))
  }
  for (const r of ra.rdnss) {
    const b = Buffer.alloc(6 + 16 * r.servers.length)
    b.writeUInt32BE(r.lifetime, 2)
    r.servers.forEach((s, i) => ipv6Bytes(s).copy(b, 6 + 16 * i))
    opts.push(option(OPT_RDNSS, b))
  }
  for (const d of ra.dnssl) {
    const names = encodeDomains(d.domains)
    const b = Buffer.alloc(6 + names.length)
    b.writeUInt32BE(d.lifetime, 2)
    names.copy(b, 6)
    opts.push(option(OPT_DNSSL, b))
  }
  if (ra.mtu !== undefined && ra.mtu > 0) {
    const b = Buffer.alloc(6)
    b.writeUInt32BE(ra.mtu, 2)
    opts.push(option(OPT_MTU, b))
  }
  if (ra.sourceLL) opts.push(option(OPT_SLLA, macBytes(ra.sourceLL)))
  return Buffer.concat(opts)
}

export class NdpParseError extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'NdpParseError'
  }
}

export interface RawOption {
  readonly type: number
  /** The option without type and length bytes. */
  readonly body: Buffer
}

/** Splits the options area; a zero length or overrun is malformed (6.1). */
export function splitOptions(buf: Buffer, start: number): RawOption[] {
  const out: RawOption[] = []
  let i = start
  while (i < buf.length) {
    if (i + 2 > buf.length) throw new NdpParseError('truncated option')
    const len = buf[i + 1]! * 8
    if (len === 0) throw new NdpParseError('option with length 0')
    if (i + len > buf.length)
      throw new NdpParseError('option overruns the packet')
    out.push({ type: buf[i]!, body: buf.subarray(i + 2, i + len) })
    i += len
  }
  return out
}

function decodeDomains(b: Buffer): string[] {
  const out: string[] = []
  let labels: string[] = []
  let i = 0
  while (i < b.length) {
    const n = b[i]!
    if (n === 0) {
      if (labels.length) out.push(labels.join('.'))
      labels = []
      i++
      continue
    }
    if (n > 63 || i + 1 + n > b.length)
      throw new NdpParseError('bad DNSSL name')
    labels.push(b.toString('ascii', i + 1, i + 1 + n))
    i += 1 + n
  }
  return out
}

export interface DecodedRa extends RaContent {
  readonly checksum: number
  readonly optionOrder: readonly number[]
}

/** Decodes an RA (ICMPv6 message bytes); throws NdpParseError if malformed. */
export function parseRa(buf: Buffer): DecodedRa {
  if (buf.length < 16) throw new NdpParseError('RA shorter than 16 bytes')
  if (buf[0] !== ICMP6_RA) throw new NdpParseError('not an RA')
  if (buf[1] !== 0) throw new NdpParseError('RA code is not 0')
  const flags = buf[5]!
  const ra = {
    checksum: buf.readUInt16BE(2),
    curHopLimit: buf[4]!,
    managed: (flags & 0x80) !== 0,
    other: (flags & 0x40) !== 0,
    preference: PRF_NAME[(flags >> 3) & 3] ?? 'medium',
    routerLifetime: buf.readUInt16BE(6),
    reachableTime: buf.readUInt32BE(8),
    retransTimer: buf.readUInt32BE(12),
    prefixes: [] as RaPrefix[],
    routes: [] as RaRoute[],
    rdnss: [] as { servers: string[]; lifetime: number }[],
    dnssl: [] as { domains: string[]; lifetime: number }[],
    mtu: undefined as number | undefined,
    sourceLL: undefined as string | undefined,
    optionOrder: [] as number[],
  }
  for (const o of splitOptions(buf, 16)) {
    ra.optionOrder.push(o.type)
    const b = o.body
    switch (o.type) {
      case OPT_PREFIX:
        if (b.length !== 30)
          throw new NdpParseError('prefix option length is not 4')
        ra.prefixes.push({
          length: b[0]!,
          onLink: (b[1]! & 0x80) !== 0,
          autonomous: (b[1]! & 0x40) !== 0,
          routerAddr: (b[1]! & 0x20) !== 0,
          valid: b.readUInt32BE(2),
          preferred: b.readUInt32BE(6),
          prefix: formatIpv6(b.subarray(14, 30)),
        })
        break
      case OPT_ROUTE: {
        // RFC 4191 2.3: 1, 2 or 3 units, enough for the prefix length.
        const units = (b.length + 2) / 8
        if (
          units > 3 ||
          b[0]! > 128 ||
          (b[0]! > 64 && units < 3) ||
          (b[0]! > 0 && units < 2)
        ) {
          throw new NdpParseError(
            'route option length does not fit its prefix length',
          )
        }
        const p = Buffer.alloc(16)
        b.subarray(6, 22).copy(p)
        ra.routes.push({
          length: b[0]!,
          preference: PRF_NAME[(b[1]! >> 3) & 3] ?? 'medium',
          lifetime: b.readUInt32BE(2),
          prefix: formatIpv6(p),
        })
        break
      }
      case OPT_RDNSS: {
        if (b.length < 22 || (b.length - 6) % 16)
          throw new NdpParseError('bad RDNSS option length')
        const servers: string[] = []
        for (let i = 6; i < b.length; i += 16)
          servers.push(formatIpv6(b.subarray(i, i + 16)))
        ra.rdnss.push({ lifetime: b.readUInt32BE(2), servers })
        break
      }
      case OPT_DNSSL:
        if (b.length < 14) throw new NdpParseError('DNSSL option too short')
        ra.dnssl.push({
          lifetime: b.readUInt32BE(2),
          domains: decodeDomains(b.subarray(6)),
        })
        break
      case OPT_MTU:
        if (b.length !== 6)
          throw new NdpParseError('MTU option length is not 1')
        ra.mtu = b.readUInt32BE(2)
        break
      case OPT_SLLA:
        ra.sourceLL = formatMac(b.subarray(0, 6))
        break
      default:
        break // unknown options are ignored (RFC 4861 4.6)
    }
  }
  const { mtu, sourceLL, ...rest } = ra
  return {
    ...rest,
    ...(mtu !== undefined ? { mtu } : {}),
    ...(sourceLL !== undefined ? { sourceLL } : {}),
  }
}
