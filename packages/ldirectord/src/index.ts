// Library entry: the factory, the pure config parser, checks and errors.
export { createLdirectord } from './ldirectord.js'
export type {
  Ldirectord,
  LdirectordOptions,
  LdStatus,
  RealStatusView,
} from './ldirectord.js'
export { DEFAULTS, parseConfig, loadConfig } from './config.js'
export type {
  LdConfig,
  VirtualService,
  RealServer,
  CheckType,
  ParseResult,
} from './config.js'
export { applyResult } from './health.js'
export type { HealthState, RealStatus } from './health.js'
export {
  checkConnect,
  checkHttp,
  checkPing,
  checkExternal,
  httpTarget,
} from './checks.js'
export type { CheckResult } from './checks.js'
export { ldError, errorCodes, type ErrorCode } from './errors.js'
