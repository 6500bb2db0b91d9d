// Peer notification after a switch, as argv lists (pure). IPv4: Habets
// arping (Debian `arping`) sends an unsolicited ARP request, sender =
// target = our address, from the now active link's MAC. IPv6: Node has no
// raw sockets and Debian's ndisc6 has no NA sender, so erd uses `ndisc6
// -s`: a Neighbor Solicitation from our address carrying our link-layer
// address makes each solicited neighbour update its cache (RFC 4861
// 7.2.3). Targets are the primary's gateways and the neighbours it knew.

import type { Address } from './netlink-text.js'

/** At most this many IPv6 neighbours are told (bonding: 16 ARP targets). */
export const MAX_NS_TARGETS = 16

export interface AnnounceInput {
  /** Link that now carries the traffic. */
  readonly dev: string
  readonly addresses: readonly Address[]
  readonly ipv6Targets: readonly string[]
  readonly ipv4: boolean
  readonly ipv6: boolean
}

export function announceCommands(a: AnnounceInput): string[][] {
  const cmds: string[][] = []
  const seen = new Set<string>()
  for (const addr of a.addresses) {
    if (seen.has(addr.address)) continue
    seen.add(addr.address)
    if (addr.family === 4 && a.ipv4) {
      // -w: do not wait a second for the answer nobody sends.
      cmds.push(['arping', '-q', '-U', '-c', '1', '-w', '0.02', '-i', a.dev, '-S', addr.address, addr.address])
    } else if (addr.family === 6 && a.ipv6 && addr.scope === 'global') {
      for (const t of [...new Set(a.ipv6Targets)].slice(0, MAX_NS_TARGETS)) {
        if (t === addr.address) continue
        cmds.push(['ndisc6', '-q', '-r', '1', '-w', '1', '-s', addr.address, t, a.dev])
      }
    }
  }
  return cmds
}
