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
  parseHostPort,
  readConfigFile,
  readKeyFile,
  sourceLines,
  splitWords,
  type HmacAlgorithm,
  type HostPort,
  configOrThrow,
  type ConfigResult,
  type ValueType,
  oneArg,
  refine,
  hostPort,
  duration,
  pattern,
  text,
  int,
  oneOf,
  lookupDirective,
  valueDirective,
  type DirectiveApply,
} from '@has/daemon-kit'
import { MAX_DATAGRAM, MIN_DATAGRAM } from './protocol.js'
import { SCHED_POLICIES, type SchedPolicy, type Scheduler } from './priority.js'
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
  /** Nice value set at start (daemon and conntrack children); unset: inherited. */
  readonly nice?: number
  /** Scheduling policy set at start (chrt); unset: inherited. */
  readonly scheduler?: Scheduler
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
  'scheduler-priority': 1, // rr/fifo without a priority: the lowest real-time one
})

/** Directives that only take effect on restart (README says so too). */
export const RESTART_DIRECTIVES = [
  'node',
  'listen',
  'multicast',
  'conntrack',
  'entry-timeout',
  'heartbeat',
  'nice',
  'scheduler',
] as const

/** What the directives set; parseConfig checks it as a whole afterwards. */
interface Draft {
  node?: string
  listen?: HostPort
  peers: HostPort[]
  accept: string[]
  multicast?: Config['multicast']
  hmac?: HmacAlgorithm
  authKey?: string
  authKeyFile?: string
  services: ServiceMatch[]
  threshold?: number
  refresh?: number
  timeout?: number
  maxDatagram?: number
  maxInsertRate?: number
  conntrack?: string
  heartbeat?: HostPort
  proxyControl?: string
  proxyPoll?: number
  nice?: number
  scheduler?: Scheduler
}

type Apply = DirectiveApply<Draft>

/** A one-value directive: read as `type`, then stored by `set`. */
const one = <T>(type: ValueType<T>, set: (d: Draft, v: T) => void): Apply =>
  valueDirective(type, set)

/** An address with an optional port (default 6950, the sync port). */
const address = (expect: string, port = 6950, nonZero = false) =>
  refine(
    hostPort(port),
    hp => isIP(hp.host) !== 0 && (!nonZero || hp.port !== 0),
    expect,
  )

/** Seconds-based durations in [min, max] ms, conn-syncd's wording. */
const seconds = (min: number, max: number): ValueType<number> => ({
  ...duration(min, max, 's'),
  expect: `a duration between ${min} ms and ${max / 1000} s`,
})

const DIRECTIVES: Readonly<Record<string, Apply>> = {
  node: one(
    pattern(/^[A-Za-z0-9._-]{1,64}$/, '1-64 of [A-Za-z0-9._-]'),
    (d, v) => {
      d.node = v
    },
  ),
  listen: one(address('address[:port]'), (d, v) => {
    d.listen = v
  }),
  peer: one(address('address[:port]', 6950, true), (d, v) => {
    d.peers.push(v)
  }),
  accept: one(
    refine(text, v => isIP(v) !== 0, 'an IP address'),
    (d, v) => {
      d.accept.push(v)
    },
  ),
  'max-insert-rate': one(
    { ...int(100, 1_000_000), expect: '100..1000000 flows per second' },
    (d, v) => {
      d.maxInsertRate = v
    },
  ),
  multicast(d, args, at, issues) {
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
        at,
        'multicast must be <IPv4 group>[:port] [interface-address]',
        args.join(' '),
      )
    } else
      d.multicast = iface
        ? { group: hp.host, port: hp.port, interface: iface }
        : { group: hp.host, port: hp.port }
  },
  hmac: one(
    {
      ...oneOf(HMAC_ALGORITHMS),
      expect: `one of ${HMAC_ALGORITHMS.join(', ')}`,
    },
    (d, v) => {
      d.hmac = v
    },
  ),
  'auth-key'(d, args, at, issues, name) {
    const v = oneArg(issues, at, name, args)
    // The key itself never reaches a log line.
    if (v !== undefined && v.length < 8)
      issues.error(at, 'auth-key must be at least 8 characters', '***')
    else if (v !== undefined) d.authKey = v
  },
  'auth-key-file': one(text, (d, v) => {
    d.authKeyFile = v
  }),
  service(d, args, at, issues) {
    const hp = args[0] ? parseHostPort(args[0]) : undefined
    const proto = args[1] ?? 'tcp'
    if (
      !hp ||
      !isIP(hp.host) ||
      hp.port === 0 ||
      (proto !== 'tcp' && proto !== 'udp') ||
      args.length > 2
    ) {
      issues.error(at, 'service must be <vip>:<port> [tcp|udp]', args.join(' '))
    } else d.services.push({ address: hp.host, port: hp.port, proto })
  },
  'sync-threshold': one(seconds(0, 60_000), (d, v) => {
    d.threshold = v
  }),
  'refresh-interval': one(seconds(500, 3_600_000), (d, v) => {
    d.refresh = v
  }),
  'entry-timeout': one(
    { ...duration(10_000, 432_000_000, 's'), expect: 'between 10s and 5 days' },
    (d, v) => {
      d.timeout = Math.round(v / 1000)
    },
  ),
  'max-datagram': one(
    {
      ...int(MIN_DATAGRAM, MAX_DATAGRAM),
      expect: `${MIN_DATAGRAM}..${MAX_DATAGRAM} bytes`,
    },
    (d, v) => {
      d.maxDatagram = v
    },
  ),
  conntrack: one(text, (d, v) => {
    d.conntrack = v
  }),
  heartbeat: one({ ...hostPort(6941), expect: 'host[:port]' }, (d, v) => {
    d.heartbeat = v
  }),
  'proxy-control': one(text, (d, v) => {
    d.proxyControl = v
  }),
  'proxy-poll': one(seconds(200, 3_600_000), (d, v) => {
    d.proxyPoll = v
  }),
  // conntrackd's `Nice` and `Scheduler { Type; Priority }`, one line each.
  nice: one(int(-20, 19), (d, v) => {
    d.nice = v
  }),
  scheduler(d, args, at, issues) {
    const [policy = '', prio] = args
    if (
      !(SCHED_POLICIES as readonly string[]).includes(policy) ||
      args.length > 2
    ) {
      issues.error(
        at,
        'scheduler must be rr|fifo [priority 1..99] or other',
        args.join(' '),
      )
      return
    }
    const p = policy as SchedPolicy
    if (p === 'other') {
      if (prio !== undefined && prio !== '0')
        issues.error(at, 'scheduler other takes no priority', prio)
      else d.scheduler = { policy: p, priority: 0 }
      return
    }
    const n =
      prio === undefined
        ? DEFAULTS['scheduler-priority']
        : int(1, 99).parse(prio)
    if (n === undefined)
      issues.error(at, `scheduler ${p} priority must be an integer 1..99`, prio)
    else d.scheduler = { policy: p, priority: n }
  },
}

/** Parses conn-syncd.conf text; never throws (the kit's one result shape). */
export function parseConfig(
  text: string,
  file = 'conn-syncd.conf',
): ConfigResult<Config> {
  const issues = new IssueList()
  const d: Draft = { peers: [], accept: [], services: [] }
  for (const line of sourceLines(text, file)) {
    const [name = '', ...args] = splitWords(line.text)
    const apply = lookupDirective(DIRECTIVES, name)
    if (apply) apply(d, args, line, issues, name)
    else issues.error(line, 'unknown directive', name)
  }
  const { node, listen, peers, accept, multicast, hmac, authKey } = d
  const { authKeyFile, services, threshold, refresh, timeout } = d
  const { maxDatagram, maxInsertRate, conntrack, heartbeat } = d
  const { proxyControl, proxyPoll, nice, scheduler } = d
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
    ...(nice !== undefined ? { nice } : {}),
    ...(scheduler ? { scheduler } : {}),
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
