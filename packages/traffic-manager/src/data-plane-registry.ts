// Which code forwards the bytes of a virtual service (`dataplane` in its
// block). 'proxy' is the in-process userspace proxy; 'nftables' is loaded
// on first use from ./nft/nft-data-plane.js, which another change adds. The
// specifier is built at run time so this package compiles without it.

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

const NFT_MODULE = './nft/nft-data-plane.js'

export async function loadDataPlaneFactory(
  kind: string,
  deps: RegistryDeps,
): Promise<DataPlaneFactory> {
  const extra = deps.extra?.[kind]
  if (extra) return extra
  switch (kind) {
    case 'proxy':
      return proxyDataPlaneFactory(await deps.proxyHost())
    case 'nftables': {
      const spec: string = NFT_MODULE
      let mod: { createNftDataPlane?: DataPlaneFactory }
      try {
        mod = (await import(spec)) as { createNftDataPlane?: DataPlaneFactory }
      } catch (e) {
        throw tmError(
          'TM_ERR_DATAPLANE_UNAVAILABLE',
          kind,
          (e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
            ? 'src/nft/nft-data-plane.ts is not part of this build yet; use dataplane proxy'
            : (e as Error).message,
          e,
        )
      }
      if (typeof mod.createNftDataPlane !== 'function') {
        throw tmError(
          'TM_ERR_DATAPLANE_UNAVAILABLE',
          kind,
          'module does not export createNftDataPlane',
        )
      }
      return mod.createNftDataPlane
    }
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
