// The grammar of every text field that crosses the wire or reaches another
// daemon: a string a peer sends is used only if it is what its field says
// (an address is an address), so it can never carry a second command to
// traffic-manager's control socket or a second line to `conntrack -R`.

import { isIP } from 'node:net'

/** Node names: the `node` directive's grammar. */
export const NODE_NAME = /^[A-Za-z0-9._-]{1,64}$/

export function isNodeName(s: string): boolean {
  return NODE_NAME.test(s)
}

export function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535
}

/** An IPv4 or IPv6 address in text form, nothing else. */
export function isAddress(s: string): boolean {
  return isIP(s) !== 0
}

/** A traffic-manager service name: `<ipv4>:<port>` or `[<ipv6>]:<port>`. */
export function isServiceName(s: string): boolean {
  const m = /^(?:\[([0-9A-Fa-f:.]{2,45})\]|([0-9.]{7,15})):(\d{1,5})$/.exec(s)
  if (!m) return false
  const v6 = m[1]
  const v4 = m[2]
  if (v6 !== undefined ? isIP(v6) !== 6 : isIP(v4 ?? '') !== 4) return false
  return isPort(Number(m[3]))
}

/** The service name's address, for "do I hold this VIP" (valid names only). */
export function serviceAddress(s: string): string {
  return s.startsWith('[')
    ? s.slice(1, s.indexOf(']'))
    : s.slice(0, s.lastIndexOf(':'))
}
