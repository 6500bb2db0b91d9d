// Library entry: the factory and the pure parts (re-exports only).
export {
  createConnSyncd,
  type ConnSyncd,
  type ConnSyncdOptions,
  type ResolvedConfig,
} from './conn-syncd.js'
export {
  parseConfig,
  loadConfig,
  DEFAULTS,
  RESTART_DIRECTIVES,
  type Config,
  type ServiceMatch,
} from './config.js'
export * from './protocol.js'
export { packDatagrams, type BatchHeader } from './batch.js'
export { flowKey, type Flow, type FlowKey, type PersistEntry } from './flow.js'
export {
  parseConntrackRow,
  insertArgs,
  refreshArgs,
  deleteArgs,
  isNatted,
  type ConntrackRow,
} from './conntrack.js'
export { SequenceTracker, type SeqVerdict } from './sequence.js'
export { PeerTable, type HeldFlow } from './peer-table.js'
export { LocalFlows } from './local-flows.js'
export {
  applyPriority,
  chrtArgs,
  parseSchedStat,
  readSchedState,
  SCHED_POLICIES,
  type Priority,
  type Scheduler,
  type SchedPolicy,
  type SchedState,
} from './priority.js'
export {
  parseMembershipLine,
  type MembershipEvent,
} from './heartbeat-client.js'
export { csError, errorCodes, type ErrorCode } from './errors.js'
export { checkTcpLiberal, TCP_LIBERAL_SYSCTL } from './tcp-liberal.js'
