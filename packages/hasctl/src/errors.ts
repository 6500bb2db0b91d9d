// hasctl's error codes (README "Errors" lists the same table).

import { defineErrors } from '@has/daemon-kit'

export const hasctlErrors = defineErrors({
  HASCTL_ERR_CONFIG: { message: 'invalid configuration: %s', exit: 3 },
  HASCTL_ERR_NOTHING_RUNNING: {
    message: 'no daemon answered, on this node or remote',
  },
})

export type HasctlErrorCode = keyof typeof hasctlErrors.codes
export const errorCodes = Object.keys(hasctlErrors.codes) as HasctlErrorCode[]
