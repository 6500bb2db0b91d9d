// Error codes of the direct-routing data plane (`dataplane nftables-dr`).
// Same TM_ prefix as the NAT plane's; listed in the README Errors table.

import { defineErrors } from '@has/daemon-kit/errors'

export const drError = defineErrors({
  TM_ERR_DR_NO_CAP: {
    message:
      'the nftables-dr data plane needs CAP_NET_ADMIN (run as root or grant AmbientCapabilities=CAP_NET_ADMIN): %s',
  },
  TM_ERR_DR_OPTION: { message: 'bad nftables-dr option for %s: %s', exit: 3 },
  TM_ERR_DR_NOT_ON_LINK: {
    message:
      "service %s: node %s is not on the director's L2 segment (%s); direct routing only rewrites the destination MAC, so every node must be on-link (on the hooked interface, or on any interface of this host with option node-interfaces any)",
  },
  TM_ERR_DR_APPLY: {
    message: 'nft refused the direct-routing ruleset for %s: %s',
  },
  TM_ERR_DR_MISSING: {
    message: 'cannot run "%s": %s (install the nftables and iproute2 packages)',
  },
})

export type DrErrorCode = keyof typeof drError.codes
