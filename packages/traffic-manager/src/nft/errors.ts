// Error codes of the nftables data plane. Kept apart from traffic-manager's
// own table (src/errors.ts) because this directory is a separate concern;
// the codes share the TM_ prefix so operators see one family.

import { defineErrors } from '@has/daemon-kit/errors'

export const nftError = defineErrors({
  TM_ERR_NFT_NO_CAP: {
    message:
      'the nftables data plane needs CAP_NET_ADMIN (run as root or grant AmbientCapabilities=CAP_NET_ADMIN): %s',
  },
  TM_ERR_NFT_MISSING: {
    message:
      'cannot run "%s": %s (install the nftables and conntrack packages)',
  },
  TM_ERR_NFT_APPLY: { message: 'nft refused the ruleset for %s: %s' },
  TM_ERR_NFT_OPTION: { message: 'bad nftables option for %s: %s' },
  TM_ERR_NFT_FORWARDING: {
    message:
      'service %s: %s is 0 in this network namespace, so DNATed packets to the nodes would be dropped; set it to 1 (sysctl -w %s=1, and a file in /etc/sysctl.d)',
  },
})

export type NftErrorCode = keyof typeof nftError.codes
