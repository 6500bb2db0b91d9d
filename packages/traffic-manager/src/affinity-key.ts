// Persistence granularity: which clients share one affinity entry. IPVS and
// ldirectord group IPv4 clients by a netmask (`-M`, `netmask`); IPv6 clients
// are grouped by prefix length, since one host's privacy addresses change
// within its /64 and an attacker holding a /64 must not fill the table one
// address at a time. Pure.

import { isIPv4, isIPv6 } from 'node:net'

export interface AffinityGranularity {
  /** IPv4 prefix length, 0..32 (32 = per address). */
  readonly v4Prefix: number
  /** IPv6 prefix length, 0..128 (128 = per address). */
  readonly v6Prefix: number
}

/**
 * The affinity table key for a client address: the address with its host
 * bits cleared, written as an address (persist-list/persist-set carry it).
 * An IPv4-mapped IPv6 address (dual-stack listener) counts as IPv4.
 */
export function affinityKey(ip: string, g: AffinityGranularity): string {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
  if (isIPv4(v4)) return g.v4Prefix >= 32 ? v4 : maskV4(v4, g.v4Prefix)
  if (g.v6Prefix >= 128 || !isIPv6(ip)) return ip
  return formatV6(parseV6(ip) & prefixMask(g.v6Prefix))
}

/** One spelling per address (v4-mapped as IPv4, IPv6 per RFC 5952), for comparing. */
export function canonicalIp(ip: string): string {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
  if (isIPv4(v4)) return v4
  return isIPv6(ip) ? formatV6(parseV6(ip)) : ip
}

function maskV4(ip: string, prefix: number): string {
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const m = (n & mask) >>> 0
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join('.')
}

function prefixMask(prefix: number): bigint {
  return prefix === 0
    ? 0n
    : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n)
}

/** A valid IPv6 address (isIPv6) as a 128-bit number. */
function parseV6(ip: string): bigint {
  let text = ip.replace(/%.*$/, '')
  // Embedded IPv4 tail (::ffff:1.2.3.4 style) becomes two groups.
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
    ]
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', rest] = text.split('::')
  const hs = head ? head.split(':') : []
  const ts = rest === undefined ? [] : rest ? rest.split(':') : []
  const groups =
    rest === undefined
      ? hs
      : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts]
  return groups.reduce((a, h) => (a << 16n) | BigInt(parseInt(h, 16)), 0n)
}

/** RFC 5952 text: lower case, the longest run of 2+ zero groups as `::`. */
function formatV6(n: bigint): string {
  const g: number[] = []
  for (let i = 7; i >= 0; i--) g.push(Number((n >> BigInt(i * 16)) & 0xffffn))
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = g.map(x => x.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}
