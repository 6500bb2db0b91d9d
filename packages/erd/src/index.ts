// Library entry: re-exports only.
export {
  createErd,
  type Erd,
  type ErdOptions,
  type ErdStatus,
  type Transition,
} from './erd.js'
export {
  DEFAULTS,
  FULL_POLL_INTERVAL,
  PRIMARY_RESELECT,
  RESTART_DIRECTIVES,
  parseConfig,
  loadConfig,
  restartOnlyChanges,
  type ErdConfig,
  type PrimaryReselect,
  type ParseResult,
  type Overrides,
} from './config.js'
export {
  LinkSelector,
  ROLES,
  type Role,
  type Phase,
  type SelectorEvent,
  type SelectorOptions,
} from './selector.js'
export {
  ERD_PROTO,
  parseRoutes,
  primaryRoutes,
  copyOf,
  planRoutes,
  formatOp,
  type Route,
  type RouteOp,
  type PlanInput,
  type Family,
} from './routes.js'
export {
  announceCommands,
  NA_SENDER,
  type AnnounceInput,
  type Ipv6Announce,
} from './announce.js'
export {
  parseMonitorLine,
  parseAddresses,
  parseNeighbours,
  hasNetAdmin,
  type MonitorEvent,
  type Address,
} from './netlink-text.js'
export {
  systemKernel,
  type Kernel,
  type Watcher,
  type ApplyResult,
} from './kernel.js'
export { systemClock, type Clock, type Timer } from '@has/daemon-kit'
export { erdError, errorCodes, type ErrorCode } from './errors.js'
export { NeighbourCache, neighbourLines, type Neighbour } from './neighbours.js'
