// Router Solicitation validation (RFC 4861 6.1.1). The kernel has already
// checked the ICMPv6 checksum of what a raw socket delivers; the rest is
// here, pure, so every rejection reason is testable with bytes.

import { ICMP6_RS, NdpParseError, OPT_SLLA, splitOptions } from './ra.js'

export type RsVerdict =
  | { readonly ok: true; readonly sourceLL?: string }
  | {
      readonly ok: false
      readonly reason: RsRejectReason
      readonly detail: string
    }

/** `hoplimit` is not malformed: it is an off-link (or forged) packet. */
export type RsRejectReason = 'hoplimit' | 'malformed'

export const UNSPECIFIED = '::'

/**
 * Validates one received RS. `hopLimit` comes from the IPV6_HOPLIMIT
 * control message; anything but 255 means the packet crossed a router.
 */
export function checkRs(
  data: Buffer,
  src: string,
  hopLimit: number,
): RsVerdict {
  if (hopLimit !== 255) {
    return { ok: false, reason: 'hoplimit', detail: `hop limit ${hopLimit}` }
  }
  const bad = (detail: string): RsVerdict => ({
    ok: false,
    reason: 'malformed',
    detail,
  })
  if (data.length < 8) return bad(`RS of ${data.length} bytes (minimum 8)`)
  if (data[0] !== ICMP6_RS) return bad(`ICMPv6 type ${data[0]}`)
  if (data[1] !== 0) return bad(`ICMPv6 code ${data[1]}`)
  let sourceLL: string | undefined
  try {
    for (const o of splitOptions(data, 8)) {
      if (o.type === OPT_SLLA) {
        if (src === UNSPECIFIED)
          return bad('source link-layer option from the unspecified address')
        sourceLL = [...o.body.subarray(0, 6)]
          .map(x => x.toString(16).padStart(2, '0'))
          .join(':')
      }
    }
  } catch (e) {
    if (e instanceof NdpParseError) return bad(e.reason)
    throw e
  }
  return sourceLL === undefined ? { ok: true } : { ok: true, sourceLL }
}
