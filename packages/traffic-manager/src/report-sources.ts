// Who may send load reports (issue 19.3): a report about a node is taken
// only from that node's own address, from a master (ldirectord in director
// mode speaks for nodes from there), from this host (a local process), or
// from a `report-from` range. A key proves who holds it; this check also
// holds without a key, and keeps strangers from filling per-sender state.
// Pure apart from the local-address lookup, which is injectable.

import { BlockList, isIPv4 } from 'node:net'
import { networkInterfaces } from 'node:os'
import { canonicalIp } from './affinity-key.js'

export interface ReportSourcesOptions {
  /** Configured master addresses. */
  readonly masters: readonly string[]
  /** `report-from` entries: an address or `<address>/<prefix>`. */
  readonly allow: readonly string[]
  /** True when the address is one of this host's (default: interfaces). */
  readonly isLocal?: (address: string) => boolean
}

export class ReportSources {
  readonly #masters: Set<string>
  readonly #allow = new BlockList()
  readonly #isLocal: (address: string) => boolean

  constructor(o: ReportSourcesOptions) {
    this.#masters = new Set(o.masters.map(canonicalIp))
    for (const a of o.allow) {
      const [net = '', len] = a.split('/')
      const type = isIPv4(net) ? 'ipv4' : 'ipv6'
      if (len === undefined) this.#allow.addAddress(net, type)
      else this.#allow.addSubnet(net, Number(len), type)
    }
    this.#isLocal = o.isLocal ?? hostAddresses()
  }

  /** May a datagram from `source` report about `node`? */
  allowed(node: string, source: string): boolean {
    const s = canonicalIp(source)
    if (s === canonicalIp(node) || this.#masters.has(s)) return true
    if (this.#allow.check(s, isIPv4(s) ? 'ipv4' : 'ipv6')) return true
    return this.#isLocal(s)
  }
}

/**
 * This host's addresses, re-read at most every 5 s on a miss (heartbeatd
 * adds and removes the VIP at run time). Loopback is always local.
 */
export function hostAddresses(
  refreshMs = 5000,
  now: () => number = Date.now,
): (address: string) => boolean {
  let known = new Set<string>()
  let readAt = -Infinity
  const read = (): void => {
    known = new Set()
    for (const list of Object.values(networkInterfaces()))
      for (const i of list ?? []) known.add(canonicalIp(i.address))
    readAt = now()
  }
  return address => {
    if (address === '::1' || (isIPv4(address) && address.startsWith('127.')))
      return true
    if (known.has(address)) return true
    if (now() - readAt < refreshMs) return false
    read()
    return known.has(address)
  }
}
