// Library entry: re-exports only.
export { createTrafficClient, SENDER } from './client.js'
export type {
  TrafficClient,
  TrafficClientOptions,
  TrafficClientStatus,
  SentReport,
} from './client.js'
export {
  parseConfig,
  loadConfig,
  parseMaster,
  nodeFor,
  DEFAULTS,
  FORMULAS,
} from './config.js'
export type {
  TrafficClientConfig,
  Master,
  Formula,
  ParseResult,
} from './config.js'
export {
  thesisLoad,
  liveLoad,
  idleShare,
  memFactor,
  LoadSampler,
} from './load-index.js'
export type { LoadSample, LoadOptions } from './load-index.js'
export {
  parseCpuinfo,
  parseMeminfo,
  parseStat,
  procfsReaders,
} from './procfs.js'
export type { ProcfsReaders, CpuInfo, MemInfo, CpuTimes } from './procfs.js'
export { writeProcfsFixture } from './procfs-fixture.js'
export type { ProcfsFixture } from './procfs-fixture.js'
export { nextFlag, reportFor, FLAGS, FLAG_COMMANDS } from './flag.js'
export type { Flag, FlagCommand } from './flag.js'
export { agentReply } from './agent-check.js'
export { createErrorLogStream } from '@has/daemon-kit'
export { tcError, errorCodes, type ErrorCode } from './errors.js'
export {
  checkDrNode,
  setupDrNode,
  type DrNodeIo,
  type DrNodeProblem,
} from './dr-node.js'
