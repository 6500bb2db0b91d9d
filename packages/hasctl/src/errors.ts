// hasctl's error codes (README "Errors" lists the same table).

import { defineErrors } from '@has/daemon-kit'

export const hasctlError = defineErrors({
  HASCTL_ERR_CONFIG: { message: 'invalid configuration: %s', exit: 3 },
  HASCTL_ERR_NOTHING_RUNNING: {
    message: 'no daemon answered, on this node or remote',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = hasctlError.codes
export type ErrorCode = keyof typeof errorCodes
