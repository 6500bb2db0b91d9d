// "Do I hold this VIP now?" decides who is the source of a flow: only the
// master that holds the virtual address sends its flows, and only the
// others insert them, so inserted entries never echo back.

import { networkInterfaces } from 'node:os'

export function localAddressProbe(
  cacheMs = 250,
  now: () => number = Date.now,
): (addr: string) => boolean {
  let at = -Infinity
  let set = new Set<string>()
  return addr => {
    if (now() - at > cacheMs) {
      set = new Set(
        Object.values(networkInterfaces()).flatMap(l =>
          (l ?? []).map(i => i.address),
        ),
      )
      at = now()
    }
    return set.has(addr)
  }
}
