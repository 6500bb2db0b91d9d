// Peer notification after a switch, as argv lists (pure). IPv4: Habets
// arping (Debian `arping`) sends an unsolicited ARP request, sender =
// target = our address, from the now active link's MAC. IPv6: the
// package's `libexec/erd-na` (a few lines of perl on a raw ICMPv6 socket;
// Node has none) sends an unsolicited Neighbor Advertisement per address
// to all-nodes with Override set, as bonding's num_unsol_na does. Without
// perl erd falls back to `ndisc6 -s`: a Neighbor Solicitation carrying our
// link-layer address updates the cache of each neighbour it is sent to
// (RFC 4861 7.2.3), so only neighbours erd knows are reached.

import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Address } from './netlink-text.js'

/** The NA sender shipped in this package (libexec/ next to dist/ and src/). */
export const NA_SENDER = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'libexec',
  'erd-na',
)

/** At most this many IPv6 neighbours get a solicitation (bonding: 16 ARP targets). */
export const MAX_NS_TARGETS = 16

/** How IPv6 peers are told: unsolicited NA (perl) or the NS fallback (ndisc6). */
export type Ipv6Announce = 'na' | 'ns'

export interface AnnounceInput {
  /** Link that now carries the traffic. */
  readonly dev: string
  readonly addresses: readonly Address[]
  /** Neighbours solicited in the `ns` fallback. */
  readonly ipv6Targets: readonly string[]
  readonly ipv4: boolean
  readonly ipv6: boolean
  /** Default `na`. */
  readonly ipv6Announce?: Ipv6Announce
}

/** The addresses a round announces, per family, each once. */
export function announceTargets(
  a: Pick<AnnounceInput, 'addresses' | 'ipv4' | 'ipv6'>,
): { v4: string[]; v6: string[] } {
  const v4: string[] = []
  const v6: string[] = []
  const seen = new Set<string>()
  for (const addr of a.addresses) {
    // Never claim an address DAD found in use elsewhere.
    if (seen.has(addr.address) || addr.dadfailed) continue
    seen.add(addr.address)
    if (addr.family === 4 && a.ipv4) v4.push(addr.address)
    // Global scope covers ULAs (fc00::/7); link-local addresses stay
    // with their port and are never moved.
    else if (addr.family === 6 && a.ipv6 && addr.scope === 'global')
      v6.push(addr.address)
  }
  return { v4, v6 }
}

/** The same round as helper processes (the fallback when the long-lived announcer fails). */
export function announceCommands(a: AnnounceInput): string[][] {
  const { v4, v6 } = announceTargets(a)
  // -w: do not wait a second for the answer nobody sends.
  const cmds: string[][] = v4.map(addr => [
    'arping',
    '-q',
    '-U',
    '-c',
    '1',
    '-w',
    '0.02',
    '-i',
    a.dev,
    '-S',
    addr,
    addr,
  ])
  if (!v6.length) return cmds
  if ((a.ipv6Announce ?? 'na') === 'na') {
    // One process per round for all addresses: perl starts in a few ms.
    cmds.push(['perl', NA_SENDER, a.dev, ...v6])
    return cmds
  }
  const targets = [...new Set(a.ipv6Targets)].slice(0, MAX_NS_TARGETS)
  for (const addr of v6) {
    for (const t of targets) {
      if (t !== addr)
        cmds.push(['ndisc6', '-q', '-r', '1', '-w', '1', '-s', addr, t, a.dev])
    }
  }
  return cmds
}
