// Library surface: the factory, the config parser, the RA/RS codecs, the
// scheduler and the error table. Nothing runs on import.
export {
  createRadvdLite,
  type RadvdLite,
  type RadvdLiteOptions,
} from './service.js'
export {
  DEFAULTS,
  INFINITY,
  LIMITS,
  loadConfig,
  parseConfig,
  type DnsslConfig,
  type InterfaceConfig,
  type ParseResult,
  type PrefixConfig,
  type RadvdConfig,
  type RdnssConfig,
  type RouteConfig,
} from './config.js'
export {
  buildRa,
  parseRa,
  NdpParseError,
  type RaContent,
  type DecodedRa,
} from './ra.js'
export { checkRs, type RsVerdict } from './rs.js'
export { compareRa, type Inconsistency } from './consistency.js'
export { raContent, diffPrefixes, type DeprecatedPrefix } from './ra-content.js'
export * from './scheduler.js'
export {
  openIcmpSocket,
  type IcmpSocket,
  type IcmpSocketOptions,
  type Received,
} from './native.js'
export { raError, errorCodes, type ErrorCode } from './errors.js'
