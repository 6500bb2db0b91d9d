// Every code this package throws, in one table. The README "Errors" table
// lists the same codes; test/errors.ts fails when the two disagree.

import { defineErrors } from '@has/daemon-kit'

export const hnmError = defineErrors({
  HNM_ERR_RELOAD_RESTART: {
    message: '%s need a restart; keeping the running configuration',
  },
  HNM_ERR_NOT_ROOT: {
    message: 'mounting needs root (CAP_SYS_ADMIN); running as uid %s',
  },
  HNM_ERR_MOUNT_HELPER: { message: 'mount helper %s not found: %s' },
  HNM_ERR_MOUNT_FAILED: { message: '%s failed: %s' },
  HNM_ERR_MOUNT_TIMEOUT: { message: '%s did not finish within %s ms' },
  HNM_ERR_RSYNC_MISSING: { message: 'rsync not found at %s: %s' },
  HNM_ERR_SYNC_FAILED: { message: 'rsync %s -> %s exited %s: %s' },
  HNM_ERR_SYNC_SOURCE_EMPTY: {
    message:
      'sync source %s is empty but target %s is not (or is remote): refusing a pass that would delete the target; is the source mounted?',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = hnmError.codes
export type ErrorCode = keyof typeof errorCodes
