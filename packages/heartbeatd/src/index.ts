export { createHeartbeatd, MAX_GENERATION } from './heartbeatd.js'
export { releaseResources } from './release.js'
export type { Heartbeatd, HeartbeatdOptions, DropReason } from './heartbeatd.js'
export type { Clock } from '@has/daemon-kit'
export {
  DEFAULTS,
  parseHaCf,
  loadConfig,
  BUILTIN_RESOURCE_DIR,
} from './config.js'
export type { Config, HaCf, Medium, LoadOptions } from './config.js'
export { parseAuthkeys } from './authkeys.js'
export type { AuthKeys, AuthKey, AuthAlgorithm } from './authkeys.js'
export { parseHaresources, parseResource } from './haresources.js'
export type { ResourceGroup, Resource } from './haresources.js'
export { encodeHeartbeat, decodeHeartbeat, MAX_DATAGRAM } from './packet.js'
export type { Heartbeat, HeldGroup, Via, DecodeResult } from './packet.js'
export { Membership } from './membership.js'
export type {
  MembershipOptions,
  Action,
  MemberEvent,
  Advert,
  GroupState,
} from './membership.js'
export {
  formatServerLine,
  parseServerLine,
  parseClientLine,
  EVENT_MAX_LINE,
  EVENT_PROTOCOL_VERSION,
} from './event-protocol.js'
export type { ServerLine, ClientLine } from './event-protocol.js'
export { hbError, errorCodes, type ErrorCode } from './errors.js'
