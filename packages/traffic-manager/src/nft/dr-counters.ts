// Pure parser for what the direct-routing table reports back through
// `nft -j list table netdev <t>`: named counters and the number of flows
// pinned in each per-node set.

import { parseNftCounters, type NftCounter } from './kernel-counters.js'

export interface DrListing {
  readonly counters: Map<string, NftCounter>
  /** Elements (pinned flows) per set name. */
  readonly setSizes: Map<string, number>
}

export function parseDrListing(json: string): DrListing {
  const setSizes = new Map<string, number>()
  let items: unknown[] = []
  try {
    const doc = JSON.parse(json) as { nftables?: unknown }
    if (Array.isArray(doc.nftables)) items = doc.nftables
  } catch {
    /* empty listing */
  }
  for (const item of items) {
    const s = (item as { set?: { name?: unknown; elem?: unknown } }).set
    if (s && typeof s.name === 'string')
      setSizes.set(s.name, Array.isArray(s.elem) ? s.elem.length : 0)
  }
  return { counters: parseNftCounters(json), setSizes }
}
