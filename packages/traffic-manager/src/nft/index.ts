// The nftables data plane: factory and its pure builders/parsers.
export {
  createNftDataPlane,
  openNftDataPlane,
  type NftDataPlaneDeps,
} from './nft-data-plane.js'
export * from './ruleset.js'
export * from './kernel-counters.js'
export {
  hasNetAdmin,
  execProgram,
  type Exec,
  type ExecResult,
} from './kernel-exec.js'
export { nftError, type NftErrorCode } from './errors.js'
// The direct-routing plane (dataplane nftables-dr).
export {
  createDrDataPlane,
  openDrDataPlane,
  type DrDataPlaneDeps,
} from './dr-data-plane.js'
export * from './dr-ruleset.js'
export { parseDrListing, type DrListing } from './dr-counters.js'
export {
  parseRouteGet,
  parseNeighMac,
  parseLinkMac,
  linkMac,
  resolveNode,
  type Resolved,
  type RouteInfo,
} from './dr-neighbours.js'
export { drError, type DrErrorCode } from './dr-errors.js'
