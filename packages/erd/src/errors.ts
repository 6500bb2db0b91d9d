// erd's error codes (prefix ERD_). The README's Errors table mirrors this
// table; test/errors.ts fails when the two disagree.

import { defineErrors, EXIT } from '@has/daemon-kit'

export const erdError = defineErrors({
  ERD_ERR_NO_INTERFACE: {
    message: 'interface "%s" (%s) does not exist',
    exit: EXIT.RUNTIME,
  },
  ERD_ERR_PRIVILEGE: {
    message:
      'erd needs CAP_NET_ADMIN to change routes (run as root or grant the capability)',
    exit: EXIT.RUNTIME,
  },
  ERD_ERR_IP_TOOL: { message: 'cannot run "ip": %s', exit: EXIT.RUNTIME },
  ERD_ERR_IP_OUTPUT: { message: 'unexpected output from "ip %s": %s' },
  ERD_ERR_ROUTE_APPLY: { message: '%s of %s route changes failed: %s' },
  ERD_ERR_NO_PERL: {
    message:
      'perl not found: IPv6 peers get neighbour solicitations (ndisc6) to the known neighbours instead of unsolicited neighbour advertisements',
  },
  ERD_ERR_SWITCH: { message: 'cannot switch to "%s": %s' },
  ERD_ERR_RESTART_NEEDED: {
    message: 'directive "%s" changed; it needs a restart, not a reload',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = erdError.codes
export type ErrorCode = keyof typeof errorCodes
