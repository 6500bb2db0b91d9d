// vip-announcer's error codes (prefix VA_). The README's Errors table lists
// exactly these; test/errors.ts fails when the two disagree. None stops the
// daemon: each is logged and counted, and the routes stay withdrawn until
// the cause is gone (degrade, never refuse).

import { defineErrors } from '@has/daemon-kit'

export const vaError = defineErrors({
  VA_ERR_BIRD_UNREACHABLE: {
    message: 'cannot reach BIRD on its control socket %s: %s',
  },
  VA_ERR_BIRD_TIMEOUT: { message: 'BIRD did not answer "%s" within %s ms' },
  VA_ERR_BIRD_REFUSED: { message: 'BIRD refused "%s": %s %s' },
  VA_ERR_BIRD_SYNTAX: {
    message: 'BIRD control socket sent something that is not a reply line: %s',
  },
  VA_ERR_NOT_STATIC: {
    message:
      'BIRD protocol %s is not a static protocol (it is %s); refusing to toggle it',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = vaError.codes
export type ErrorCode = keyof typeof errorCodes
