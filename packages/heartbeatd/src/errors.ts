// Every code heartbeatd can raise, in one table; README "Errors" mirrors it
// (test/errors.ts keeps the two in step).

import { defineErrors } from '@has/daemon-kit'

export const hbError = defineErrors({
  HB_ERR_CONFIG_LOCAL_NODE: {
    message: 'local node "%s" is not one of the node lines in %s',
    exit: 3,
  },
  HB_ERR_AUTHKEYS_MODE: {
    message: '%s is readable by group or others (mode %s); chmod 600 it',
    exit: 3,
  },
  HB_ERR_INTERFACE: {
    message: 'interface "%s" (from %s) has no IPv4 address here',
    exit: 3,
  },
  HB_ERR_BIND: { message: 'cannot bind UDP %s: %s' },
  HB_ERR_PEER_DEAD: {
    message: 'refused: the peer %s is dead, nobody would hold the resources',
  },
  HB_ERR_EVENT_SYNTAX: { message: 'bad client line' },
  HB_ERR_EVENT_UNKNOWN: { message: 'unknown command "%s"' },
  HB_ERR_EVENT_TOO_LONG: { message: 'line longer than %s bytes' },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = hbError.codes
export type ErrorCode = keyof typeof errorCodes
