// The nftables data plane: factory and its pure builders/parsers.
export { createNftDataPlane, openNftDataPlane, type NftDataPlaneDeps } from './nft-data-plane.js'
export * from './ruleset.js'
export * from './kernel-counters.js'
export { hasNetAdmin, execProgram, type Exec, type ExecResult } from './kernel-exec.js'
export { nftErrors, type NftErrorCode } from './errors.js'
