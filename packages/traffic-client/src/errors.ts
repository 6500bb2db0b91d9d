// Every error code traffic-client can raise, in one table so the README's
// Errors section and the code cannot drift (test/errors.ts compares them).

import { defineErrors, EXIT } from '@has/daemon-kit'

export const tcError = defineErrors({
  TC_ERR_PROCFS_READ: { message: 'cannot read %s: %s' },
  TC_ERR_PROCFS_CPUINFO: {
    message:
      '%s has no bogomips line; set "capacity" (live) or use another procfs',
  },
  TC_ERR_PROCFS_MEMINFO: { message: '%s lacks %s' },
  TC_ERR_PROCFS_STAT: { message: '%s has no aggregate "cpu" line' },
  TC_ERR_SEND: { message: 'sending to %s failed: %s' },
  TC_ERR_SOURCE: {
    message:
      'cannot send reports from the node address %s (%s): they leave from the address the kernel picks, which managers drop unless it is the same; retried every 10 s',
  },
  TC_ERR_AGENT_LISTEN: { message: 'agent-check port %s: %s' },
  TC_ERR_FLAG_ARGS: { message: '%s takes no arguments', exit: EXIT.USAGE },
  TC_ERR_DR_NODE: { message: 'not set up for direct routing: %s' },
  TC_ERR_ERRORLOG: {
    message: 'cannot open ErrorLog %s: %s',
    exit: EXIT.CONFIG,
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = tcError.codes
export type ErrorCode = keyof typeof errorCodes
