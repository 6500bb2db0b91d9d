// conn-syncd's error codes (README "Errors" lists the same table).

import { defineErrors } from '@has/daemon-kit'

export const csError = defineErrors({
  CS_ERR_CONFIG: { message: 'invalid configuration: %s', exit: 3 },
  CS_ERR_BIND: { message: 'cannot bind the sync socket on %s: %s' },
  CS_ERR_NO_CAP: { message: 'conntrack needs CAP_NET_ADMIN: %s' },
  CS_ERR_CONNTRACK: { message: 'cannot run conntrack (%s): %s' },
  CS_ERR_KEY_FILE: { message: 'cannot read auth key file %s: %s', exit: 3 },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = csError.codes
export type ErrorCode = keyof typeof errorCodes
