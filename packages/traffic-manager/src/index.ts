// Library entry: re-exports only.
export { createTrafficManager } from './traffic-manager.js'
export type {
  TrafficManager,
  TrafficManagerOptions,
  StatusSnapshot,
  ServiceStatus,
  ServiceNodeStatus,
} from './traffic-manager.js'
export { parseConfig, loadConfig, DEFAULTS, DATA_PLANES } from './config.js'
export type {
  TmConfig,
  ServiceConfig,
  NodeConfig,
  ServiceNode,
  NodeRole,
} from './config.js'
export * from './report-protocol.js'
export * from './data-plane.js'
export { loadDataPlaneFactory } from './data-plane-registry.js'
export { SCHEDULERS, createScheduler } from './schedulers.js'
export type { SchedulerName, Scheduler, Candidate } from './schedulers.js'
export { weightFromLoad, MAX_WEIGHT } from './weights.js'
export { LiveTable, DROP_REASONS, REPLAY_STATE_MAX } from './live-table.js'
export { ReportSources, hostAddresses } from './report-sources.js'
export {
  affinityKey,
  canonicalIp,
  type AffinityGranularity,
} from './affinity-key.js'
export type { NodeEntry, NodeStatus, DropReason } from './live-table.js'
export { planBackends, failStatic } from './plan.js'
export { formatStatus } from './status-table.js'
export { tmError, errorCodes, type ErrorCode } from './errors.js'
export {
  buildMaglevTable,
  maglevShares,
  maglevDisruption,
  maglevSize,
  nextPrime,
  isPrime,
  type MaglevNode,
  type MaglevTable,
} from './maglev.js'
export {
  startStatusPage,
  renderStatusPage,
  parseStatusPageListen,
  RateTracker,
  type StatusPage,
  type StatusPageOptions,
  type NodeRates,
} from './status-page.js'
