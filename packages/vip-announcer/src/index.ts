// Library surface: the factory, the config parser, the health state
// machine, the BIRD reply codec and client, and the error table. Nothing
// runs on import.
export {
  createVipAnnouncer,
  type VipAnnouncer,
  type VipAnnouncerOptions,
} from './announcer.js'
export {
  DEFAULTS,
  loadConfig,
  parseConfig,
  type AnnouncerConfig,
} from './config.js'
export {
  HealthMachine,
  judge,
  type Reason,
  type State,
  type Transition,
  type TmHealth,
  type Verdict,
} from './health.js'
export {
  BIRD,
  BIRD_MAX_LINE,
  BirdReplyParser,
  BirdSyntaxError,
  formatCommand,
  isError,
  parseProtocolRows,
  toggleOutcome,
  type BirdReply,
  type ProtocolCommand,
  type ProtocolRow,
  type ReplyLine,
} from './bird-codec.js'
export { createBirdClient, type BirdClient } from './bird-client.js'
export { createTmProbe, type TmProbe } from './tm-probe.js'
export { createMetrics, type Metrics } from './metrics.js'
export { vaError, errorCodes, type ErrorCode } from './errors.js'
