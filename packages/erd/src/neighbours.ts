// The neighbours of the node's LAN, as seen on either port (pure). Both
// ports sit on one LAN, so an entry learned on one is valid on the other:
// at a switch erd installs them on the new active port (`ip neigh
// replace ... nud reachable`), so its first packet needs no ARP/ND round
// trip, and the IPv6 ones are the targets of the announcements. The
// kernel flushes a port's entries when it loses carrier, hence this copy.

export interface Neighbour {
  readonly address: string
  /** Absent while unresolved (a gateway known only from a route). */
  readonly lladdr?: string
}

/** Most recently seen first out last; bounded. */
export class NeighbourCache {
  readonly #max: number
  readonly #map = new Map<string, string | undefined>()

  constructor(max = 64) {
    this.#max = max
  }

  remember(n: Neighbour): void {
    if (/^(fe80|ff)/i.test(n.address) && !n.lladdr) return
    const known = this.#map.get(n.address)
    this.#map.delete(n.address)
    this.#map.set(n.address, n.lladdr ?? known)
    if (this.#map.size > this.#max)
      this.#map.delete(this.#map.keys().next().value as string)
  }

  /** IPv6 neighbours worth a solicitation (global or link-local). */
  ipv6(): string[] {
    return [...this.#map.keys()].filter(a => a.includes(':'))
  }

  all(): Neighbour[] {
    return [...this.#map].map(([address, lladdr]) =>
      lladdr ? { address, lladdr } : { address },
    )
  }
}

/** `ip -batch` lines that install the known entries on `dev`. */
export function neighbourLines(
  ns: readonly Neighbour[],
  dev: string,
  families: { ipv4: boolean; ipv6: boolean },
): string[] {
  return ns
    .filter(
      n =>
        n.lladdr && (n.address.includes(':') ? families.ipv6 : families.ipv4),
    )
    .map(
      n =>
        `neigh replace ${n.address} lladdr ${n.lladdr} dev ${dev} nud reachable`,
    )
}
