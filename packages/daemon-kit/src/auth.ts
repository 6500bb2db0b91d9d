// Datagram authentication shared by the UDP protocols (load reports,
// heartbeats, connection sync): an HMAC over the exact bytes before the
// MAC field, compared in constant time.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { stat } from 'node:fs/promises'

export const HMAC_ALGORITHMS = ['sha256', 'sha1', 'sha512'] as const
export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number]

export function hmacHex(
  algorithm: HmacAlgorithm,
  key: string | Buffer,
  data: string | Buffer,
): string {
  return createHmac(algorithm, key).update(data).digest('hex')
}

/** Constant-time comparison of a received hex MAC against the expected one. */
export function verifyHmacHex(
  algorithm: HmacAlgorithm,
  key: string | Buffer,
  data: string | Buffer,
  mac: string,
): boolean {
  const expected = Buffer.from(hmacHex(algorithm, key, data), 'hex')
  if (!/^[0-9a-f]+$/i.test(mac) || mac.length !== expected.length * 2)
    return false
  return timingSafeEqual(expected, Buffer.from(mac, 'hex'))
}

/** True when group or others may read the file (secrets must be 0600). */
export async function isReadableByOthers(path: string): Promise<boolean> {
  const s = await stat(path)
  return (s.mode & 0o077) !== 0
}
