// conn-syncd.conf: one directive per line, `#` comments. Pure parser plus
// loadConfig (the only I/O). See README "Configuration".

import { hostname } from 'node:os'
import { isIP } from 'node:net'
import {
  HMAC_ALGORITHMS,
  IssueList,
  KEY_MIN_BYTES,
  KeyFileError,
  deepFreeze,
  parseDuration,
  parseHostPort,
  parseIntRange,
  readConfigFile,
  readKeyFile,
  sourceLines,
  splitWords,
  type HmacAlgorithm,
  type HostPort,
  configOrThrow,
  type ConfigResult,
} from '@has/daemon-kit'
import { MAX_DATAGRAM, MIN_DATAGRAM } from './protocol.js'
import { csError } from './errors.js'

export interface ServiceMatch {
  readonly address: string
  readonly port: number
  readonly proto: 'tcp' | 'udp'
}

export interface Config {
  readonly node: string
  readonly listen: HostPort
  readonly peers: readonly HostPort[]
  /** Extra source addresses accepted (multicast senders that are not peers). */
  readonly accept: readonly string[]
  readonly multicast?: {
    readonly group: string
    readonly port: number
    readonly interface?: string
  }
  readonly hmac: HmacAlgorithm
  readonly authKey?: string
  readonly authKeyFile?: string
  readonly services: readonly ServiceMatch[]
  readonly syncThresholdMs: number
  readonly refreshIntervalMs: number
  readonly entryTimeoutS: number
  readonly maxInsertRate: number
  readonly maxDatagram: number
  readonly conntrack: string
  readonly heartbeat?: HostPort
  readonly proxyControl?: string
  readonly proxyPollMs: number
}

export const DEFAULTS = Object.freeze({
  listen: '0.0.0.0:6950',
  hmac: 'sha256' as HmacAlgorithm,
  'sync-threshold': 1000, // ms
  'refresh-interval': 10_000, // ms
  'entry-timeout': 120, // s
  'max-datagram': 1400, // bytes
  'max-insert-rate': 20_000, // flows per second into the kernel
  conntrack: 'conntrack',
  'proxy-poll': 2000, // ms
})

/** Directives that only take effect on restart (README says so too). */
export const RESTART_DIRECTIVES = [
  'node',
  'listen',
  'multicast',
  'conntrack',
  'entry-timeout',
  'heartbeat',
] as const

/** Parses conn-syncd.conf text; never throws (the kit's one result shape). */
export function parseConfig(
  text: string,
  file = 'conn-syncd.conf',
): ConfigResult<Config> {
  const issues = new IssueList()
  let node: string | undefined
  let listen: HostPort | undefined
  const peers: HostPort[] = []
  const accept: string[] = []
  let multicast: Config['multicast']
  let hmac: HmacAlgorithm | undefined
  let authKey: string | undefined
  let authKeyFile: string | undefined
  const services: ServiceMatch[] = []
  let threshold: number | undefined
  let refresh: number | undefined
  let timeout: number | undefined
  let maxDatagram: number | undefined
  let maxInsertRate: number | undefined
  let conntrack: string | undefined
  let heartbeat: HostPort | undefined
  let proxyControl: string | undefined
  let proxyPoll: number | undefined

  for (const line of sourceLines(text, file)) {
    const [name, ...args] = splitWords(line.text)
    const value = args.join(' ')
    const one = (): string | undefined => {
      if (args.length !== 1) {
        issues.error(line, `${name} takes exactly one value`, value)
        return undefined
      }
      return args[0]
    }
    const duration = (
      what: string,
      min: number,
      max: number,
    ): number | undefined => {
      const v = one()
      if (v === undefined) return undefined
      const ms = parseDuration(v, 's')
      if (ms === undefined || ms < min || ms > max) {
        issues.error(
          line,
          `${what} must be a duration between ${min} ms and ${max / 1000} s`,
          v,
        )
        return undefined
      }
      return ms
    }
    switch (name) {
      case 'node': {
        const v = one()
        if (v !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(v))
          issues.error(line, 'node must be 1-64 of [A-Za-z0-9._-]', v)
        else node = v
        break
      }
      case 'listen': {
        const v = one()
        const hp = v === undefined ? undefined : parseHostPort(v, 6950)
        if (v !== undefined && (!hp || !isIP(hp.host)))
          issues.error(line, 'listen must be address[:port]', v)
        else listen = hp
        break
      }
      case 'peer': {
        const v = one()
        const hp = v === undefined ? undefined : parseHostPort(v, 6950)
        if (v !== undefined && (!hp || !isIP(hp.host) || hp.port === 0))
          issues.error(line, 'peer must be address[:port]', v)
        else if (hp) peers.push(hp)
        break
      }
      case 'accept': {
        const v = one()
        if (v !== undefined && !isIP(v))
          issues.error(line, 'accept must be an IP address', v)
        else if (v !== undefined) accept.push(v)
        break
      }
      case 'max-insert-rate': {
        const v = one()
        const n = v === undefined ? undefined : parseIntRange(v, 100, 1_000_000)
        if (n === undefined)
          issues.error(
            line,
            'max-insert-rate must be 100..1000000 flows per second',
            v,
          )
        else maxInsertRate = n
        break
      }
      case 'multicast': {
        const hp = args[0] ? parseHostPort(args[0], 6950) : undefined
        const iface = args[1]
        if (
          !hp ||
          isIP(hp.host) !== 4 ||
          !/^(22[4-9]|23\d)\./.test(hp.host) ||
          args.length > 2 ||
          (iface !== undefined && isIP(iface) !== 4)
        ) {
          issues.error(
            line,
            'multicast must be <IPv4 group>[:port] [interface-address]',
            value,
          )
        } else
          multicast = iface
            ? { group: hp.host, port: hp.port, interface: iface }
            : { group: hp.host, port: hp.port }
        break
      }
      case 'hmac': {
        const v = one()
        if (
          v !== undefined &&
          !(HMAC_ALGORITHMS as readonly string[]).includes(v)
        ) {
          issues.error(
            line,
            `hmac must be one of ${HMAC_ALGORITHMS.join(', ')}`,
            v,
          )
        } else hmac = v as HmacAlgorithm
        break
      }
      case 'auth-key': {
        const v = one()
        if (v !== undefined && v.length < 8)
          issues.error(line, 'auth-key must be at least 8 characters', '***')
        else authKey = v
        break
      }
      case 'auth-key-file':
        authKeyFile = one()
        break
      case 'service': {
        const hp = args[0] ? parseHostPort(args[0]) : undefined
        const proto = args[1] ?? 'tcp'
        if (
          !hp ||
          !isIP(hp.host) ||
          hp.port === 0 ||
          (proto !== 'tcp' && proto !== 'udp') ||
          args.length > 2
        ) {
          issues.error(line, 'service must be <vip>:<port> [tcp|udp]', value)
        } else services.push({ address: hp.host, port: hp.port, proto })
        break
      }
      case 'sync-threshold':
        threshold = duration('sync-threshold', 0, 60_000)
        break
      case 'refresh-interval':
        refresh = duration('refresh-interval', 500, 3_600_000)
        break
      case 'entry-timeout': {
        const v = one()
        const ms = v === undefined ? undefined : parseDuration(v, 's')
        if (ms === undefined || ms < 10_000 || ms > 432_000_000)
          issues.error(line, 'entry-timeout must be between 10s and 5 days', v)
        else timeout = Math.round(ms / 1000)
        break
      }
      case 'max-datagram': {
        const v = one()
        const n =
          v === undefined
            ? undefined
            : parseIntRange(v, MIN_DATAGRAM, MAX_DATAGRAM)
        if (n === undefined)
          issues.error(
            line,
            `max-datagram must be ${MIN_DATAGRAM}..${MAX_DATAGRAM} bytes`,
            v,
          )
        else maxDatagram = n
        break
      }
      case 'conntrack':
        conntrack = one()
        break
      case 'heartbeat': {
        const v = one()
        const hp = v === undefined ? undefined : parseHostPort(v, 6941)
        if (v !== undefined && !hp)
          issues.error(line, 'heartbeat must be host[:port]', v)
        else heartbeat = hp
        break
      }
      case 'proxy-control':
        proxyControl = one()
        break
      case 'proxy-poll':
        proxyPoll = duration('proxy-poll', 200, 3_600_000)
        break
      default:
        issues.error(line, 'unknown directive', name)
    }
  }
  const at = { file, line: 0 }
  if (!authKey && !authKeyFile)
    issues.error(
      at,
      'auth-key or auth-key-file is required (datagrams are always authenticated)',
    )
  if (authKey && authKeyFile)
    issues.error(at, 'give auth-key or auth-key-file, not both')
  if (peers.length === 0 && !multicast)
    issues.error(at, 'at least one peer or a multicast group is required')
  // Datagrams are accepted only from peer and accept addresses.
  if (peers.length === 0 && accept.length === 0 && multicast) {
    issues.error(
      at,
      'multicast without peer needs an `accept <address>` line per sending master (datagrams from other sources are dropped)',
    )
  }
  if (services.length === 0)
    issues.error(at, 'at least one service <vip>:<port> is required')
  if (!issues.ok) return { errors: issues.errors, warnings: issues.warnings }
  const refreshIntervalMs = refresh ?? DEFAULTS['refresh-interval']
  const entryTimeoutS = timeout ?? DEFAULTS['entry-timeout']
  if (entryTimeoutS * 1000 < 2 * refreshIntervalMs) {
    issues.error(
      at,
      'entry-timeout must be at least twice refresh-interval',
      `${entryTimeoutS}s`,
    )
    return { errors: issues.errors, warnings: issues.warnings }
  }
  const cfg: Config = {
    node: node ?? hostname(),
    listen: listen ?? (parseHostPort(DEFAULTS.listen) as HostPort),
    peers,
    accept,
    ...(multicast ? { multicast } : {}),
    hmac: hmac ?? DEFAULTS.hmac,
    ...(authKey ? { authKey } : {}),
    ...(authKeyFile ? { authKeyFile } : {}),
    services,
    syncThresholdMs: threshold ?? DEFAULTS['sync-threshold'],
    refreshIntervalMs,
    entryTimeoutS,
    maxInsertRate: maxInsertRate ?? DEFAULTS['max-insert-rate'],
    maxDatagram: maxDatagram ?? DEFAULTS['max-datagram'],
    conntrack: conntrack ?? DEFAULTS.conntrack,
    ...(heartbeat ? { heartbeat } : {}),
    ...(proxyControl ? { proxyControl } : {}),
    proxyPollMs: proxyPoll ?? DEFAULTS['proxy-poll'],
  }
  return { config: deepFreeze(cfg), errors: [], warnings: issues.warnings }
}

/**
 * The HMAC key from auth-key-file: the file's text (UTF-8) without leading
 * and trailing white space, so the newline an editor or `echo` adds is not
 * part of the key (PROTOCOL.md "Authentication" says the same).
 */
export function keyFromFileText(text: string): string {
  return text.trim()
}

/** Reads and validates the file; resolves auth-key-file into the key. */
export async function loadConfig(
  path: string,
): Promise<Config & { readonly key: string }> {
  const cfg = configOrThrow(parseConfig(await readConfigFile(path), path))
  let key = cfg.authKey ?? ''
  if (cfg.authKeyFile) {
    // daemon-kit's key-file rule: 0600 (checked on the opened file) and
    // at least KEY_MIN_BYTES of key after keyFromFileText.
    try {
      key = keyFromFileText(
        await readKeyFile(cfg.authKeyFile, { text: 'exact', minBytes: 0 }),
      )
    } catch (e) {
      throw csError(
        'CS_ERR_KEY_FILE',
        cfg.authKeyFile,
        e instanceof KeyFileError
          ? e.reason
          : ((e as NodeJS.ErrnoException).code ?? String(e)),
      )
    }
    if (Buffer.byteLength(key, 'utf8') < KEY_MIN_BYTES) {
      throw csError(
        'CS_ERR_KEY_FILE',
        cfg.authKeyFile,
        `holds fewer than ${KEY_MIN_BYTES} bytes of key (at least ${KEY_MIN_BYTES} bytes required)`,
      )
    }
  }
  return deepFreeze({ ...cfg, key })
}
