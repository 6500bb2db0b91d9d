// Every error code ldirectord raises, in one table (README "Errors" lists
// the same codes; test/errors.ts keeps the two in step).

import { defineErrors, EXIT } from '@has/daemon-kit'

export const ldError = defineErrors({
  LD_ERR_KEYFILE_UNREADABLE: {
    message: 'cannot read reportkeyfile %s: %s',
    exit: EXIT.CONFIG,
  },
  LD_ERR_CHECK_TIMEOUT: { message: 'no answer within %s ms' },
  LD_ERR_CHECK_CONNECT: { message: 'connect failed: %s' },
  LD_ERR_CHECK_STATUS: { message: 'HTTP status %s is not 2xx' },
  LD_ERR_CHECK_RECEIVE: { message: 'response does not match receive %s' },
  LD_ERR_CHECK_EXIT: { message: 'command exited with %s' },
  LD_ERR_CHECK_OFF: { message: 'checktype is off' },
  LD_ERR_MAINTENANCE: { message: 'maintenance file %s present' },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = ldError.codes
export type ErrorCode = keyof typeof errorCodes
