export { DAEMONS, isDaemonName, type DaemonName } from './daemons.js'
export {
  parseConfig,
  loadConfig,
  DEFAULTS,
  DEFAULT_CONFIG,
  type HasctlConfig,
} from './config.js'
export { readLocal, readRemote, buildInfo, type Reading } from './collect.js'
export { buildView, type ClusterView } from './view.js'
export { formatView } from './format.js'
export {
  readCluster,
  clusterView,
  controlAddress,
  type ClusterSources,
} from './cluster.js'
export { hasctlError, errorCodes, type ErrorCode } from './errors.js'
