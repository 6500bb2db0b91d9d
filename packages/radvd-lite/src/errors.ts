// radvd-lite's error codes (prefix RA_). The README's Errors table lists
// exactly these; test/errors.ts fails when the two disagree.

import { defineErrors } from '@has/daemon-kit'

export const raError = defineErrors({
  RA_ERR_IFACE_MISSING: {
    message: 'interface %s does not exist (and IgnoreIfMissing is off)',
  },
  RA_ERR_PRIVILEGE: {
    message: 'opening a raw ICMPv6 socket on %s needs CAP_NET_RAW (%s)',
  },
  RA_ERR_SOCKET: { message: 'cannot open a raw ICMPv6 socket on %s: %s' },
  RA_ERR_NATIVE: {
    message:
      'the native addon build/Release/icmp6.node is missing or will not load (%s); ' +
      'install make, g++ and python3, then run `npm rebuild @has/radvd-lite`',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = raError.codes
export type ErrorCode = keyof typeof errorCodes
