// Every code this package throws, in one table. The README "Errors" table
// lists the same codes; test/errors.ts fails when the two disagree.

import { defineErrors, EXIT } from '@has/daemon-kit'

export const errorCodes = {
  HNM_ERR_USAGE: { message: '%s', exit: EXIT.USAGE },
  HNM_ERR_NOT_ROOT: {
    message: 'mounting needs root (CAP_SYS_ADMIN); running as uid %s',
  },
  HNM_ERR_MOUNT_HELPER: { message: 'mount helper %s not found: %s' },
  HNM_ERR_MOUNT_FAILED: { message: '%s failed: %s' },
  HNM_ERR_MOUNT_TIMEOUT: { message: '%s did not finish within %s ms' },
  HNM_ERR_NO_HEALTHY: { message: 'no healthy server for %s' },
  HNM_ERR_RPC_REPLY: { message: 'malformed RPC reply: %s' },
  HNM_ERR_RPC_TIMEOUT: { message: 'RPC NULL call to %s timed out after %s ms' },
  HNM_ERR_RSYNC_MISSING: { message: 'rsync not found at %s: %s' },
  HNM_ERR_SYNC_FAILED: { message: 'rsync %s -> %s exited %s: %s' },
} as const

export const hnmError = defineErrors(errorCodes)
export type HnmErrorCode = keyof typeof errorCodes
