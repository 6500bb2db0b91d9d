// Which code forwards the bytes of a virtual service (`dataplane` in its
// block). 'proxy' is the in-process userspace proxy; the kernel planes
// ('nftables', 'nftables-dr') are imported on first use, so a proxy-only
// master never loads them.

import type { DataPlaneFactory } from './data-plane.js'
import { proxyDataPlaneFactory } from './proxy-data-plane.js'
import type { ProxyHost } from './proxy-host.js'
import { tmError } from './errors.js'
import { DATA_PLANES } from './config.js'

export { DATA_PLANES } from './config.js'

export interface RegistryDeps {
  /** Lazily creates the proxy host (worker pool) on first proxy service. */
  proxyHost(): Promise<ProxyHost>
  /** Overrides for tests or embedders: kind → factory. */
  extra?: Readonly<Record<string, DataPlaneFactory>>
}

export async function loadDataPlaneFactory(
  kind: string,
  deps: RegistryDeps,
): Promise<DataPlaneFactory> {
  const extra = deps.extra?.[kind]
  if (extra) return extra
  switch (kind) {
    case 'proxy':
      return proxyDataPlaneFactory(await deps.proxyHost())
    case 'nftables':
      // NAT: DNAT + conntrack (docs/nftables.md).
      return (await import('./nft/nft-data-plane.js')).createNftDataPlane
    case 'nftables-dr':
      // Direct routing (MAC rewrite + Maglev): docs/direct-routing.md.
      return (await import('./nft/dr-data-plane.js')).createDrDataPlane
    default:
      throw tmError(
        'TM_ERR_DATAPLANE_UNAVAILABLE',
        kind,
        `known: ${DATA_PLANES.join(', ')}`,
      )
  }
}
