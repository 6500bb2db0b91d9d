// Every error code traffic-manager can raise or count, in one table. The
// README's "Errors" table mirrors it (test/errors.ts keeps them in sync).
// Codes for dropped datagrams are never thrown: they label the drop counter.

// The subpath keeps proxy workers from loading the whole kit (metrics,
// file watching): issue 18.12, start cost per worker.
import { defineErrors } from '@has/daemon-kit/errors'

export const tmError = defineErrors({
  TM_ERR_DATAPLANE_UNAVAILABLE: {
    message: 'data plane "%s" is not available in this build: %s',
    exit: 3,
  },
  TM_ERR_LISTEN: { message: 'cannot listen on %s: %s' },
  TM_ERR_UNKNOWN_SERVICE: { message: 'no virtual service "%s"' },
  TM_ERR_UNKNOWN_NODE: { message: 'node "%s" is not in virtual service "%s"' },
  TM_ERR_BAD_ARGUMENT: { message: 'bad argument: %s' },
  TM_ERR_NOT_SUPPORTED: { message: '%s' },
  TM_ERR_WORKER: { message: 'proxy worker failed: %s' },
  TM_ERR_INHERITED: {
    message:
      'reload refused: virtual service %s listens on a socket inherited from the service manager (%s), which a reload never closes; restart to remove or move it',
  },
  TM_ERR_REPORT_SYNTAX: { message: 'report dropped: malformed line' },
  TM_ERR_REPORT_VERSION: { message: 'report dropped: unknown version' },
  TM_ERR_REPORT_FIELD: { message: 'report dropped: bad field' },
  TM_ERR_REPORT_TOO_LONG: { message: 'report dropped: datagram too long' },
  TM_ERR_REPORT_UNKNOWN_NODE: {
    message: 'report dropped: node not configured',
  },
  TM_ERR_REPORT_SOURCE: {
    message: 'report dropped: sent from an address not allowed for its node',
  },
  TM_ERR_REPORT_MAC: { message: 'report dropped: missing or bad MAC' },
  TM_ERR_REPORT_REPLAY: { message: 'report dropped: replayed or stale' },
  TM_ERR_REPORT_LATE: {
    message: 'report dropped: older than the newest applied from its sender',
  },
  TM_ERR_REPORT_AUTOJOIN_FULL: {
    message:
      'report dropped: an unlisted node may not join, autojoin-max nodes already joined',
  },
})

/** Every code with its message and exit status; the README's Errors table lists the same. */
export const errorCodes = tmError.codes
export type ErrorCode = keyof typeof errorCodes
