// The port a server bound (tests bind port 0): one checked read instead of
// a cast at every `server.address()`.

import type { AddressInfo } from 'node:net'

export interface Bound {
  address(): AddressInfo | string | null
}

/** The bound port; throws if the server is not listening on a port. */
export function portOf(server: Bound): number {
  const a = server.address()
  if (a === null || typeof a === 'string')
    throw new Error(`portOf: not listening on a port (address ${String(a)})`)
  return a.port
}
