// Library entry: re-exports only.
export { createHaNfsMount } from './service.js'
export type {
  HaNfsMount,
  HaNfsMountOptions,
  HaNfsMountStatus,
} from './service.js'
export { parseConfig, parseSource, loadConfig, DEFAULTS } from './config.js'
export type { HnmConfig, MountSpec, SyncSpec, MounterKind } from './config.js'
export { hnmError, errorCodes, type ErrorCode } from './errors.js'
export {
  buildNullCall,
  parseReply,
  RecordReader,
  RpcDecodeError,
  replyVerdict,
  NFS_PROGRAM,
  MAX_RECORD,
} from './rpc.js'
export type { RpcReply, AcceptStat } from './rpc.js'
export { rpcNullProbe } from './rpc-client.js'
export type { NullProbeResult, NullProbeOptions } from './rpc-client.js'
export { FailoverPolicy } from './policy.js'
export type { PolicyOptions, ServerHealth, Decision } from './policy.js'
export { rsyncArgs, backoffMs } from './rsync-args.js'
export {
  checkSource,
  isRemoteTarget,
  type SourceVerdict,
} from './source-guard.js'
export type { Mounter } from './mounter.js'
