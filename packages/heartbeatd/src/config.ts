// ha.cf (Linux-HA heartbeat's main file) plus the two files it points at,
// authkeys and haresources. parseHaCf is pure; loadConfig does the I/O
// (reading the three files, the authkeys mode check, finding the agents).

import { accessSync, constants, existsSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isIPv4 } from 'node:net'
import {
  IssueList,
  deepFreeze,
  isReadableByOthers,
  parseDuration,
  parseHostPort,
  parseIntRange,
  readConfigFile,
  sourceLines,
  splitWords,
  type HostPort,
  type Position,
  configResult,
  configOrThrow,
  type ConfigResult,
  type ValueType,
  readOne,
  oneArg,
  readValue,
  lookupDirective,
  bool,
  int,
  hostPort,
  text,
  valueDirective,
  type DirectiveApply,
} from '@has/daemon-kit'
import { parseAuthkeys, type AuthKeys } from './authkeys.js'
import { parseHaresources, type ResourceGroup } from './haresources.js'
import { hbError } from './errors.js'

/** Fast-failover defaults (times in ms). heartbeat's own are 1 s / 30 s. */
export const DEFAULTS = Object.freeze({
  keepalive: 30, // ms between heartbeats on each path
  deadtime: 100, // ms of silence on every path before the peer is dead
  deadtime_max_factor: 4, // adaptive deadline up to 4 x deadtime under jitter
  warntime: 60, // ms of silence before a "late heartbeat" warning
  initdead: 2000, // ms to wait for the peer after start before acting alone
  deadping: 1000, // ms without a reply before a ping node is unreachable
  udpport: 694, // heartbeat's registered port (ha-cluster)
  auto_failback: false,
  realtime: true, // SCHED_RR as heartbeat does
  event_listen: '127.0.0.1:6941',
  resource_dir: ['/etc/ha.d/resource.d'],
  state_dir: '/run/has/heartbeatd',
})

/** The agents shipped in this package (resource.d next to dist/). */
export const BUILTIN_RESOURCE_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'resource.d',
)

export type Medium =
  | { readonly kind: 'bcast'; readonly iface: string; readonly at: Position }
  | {
      readonly kind: 'ucast'
      readonly iface: string
      readonly peer: string
      readonly at: Position
    }
  | {
      readonly kind: 'mcast'
      readonly iface: string
      readonly group: string
      readonly port: number
      readonly ttl: number
      readonly loop: boolean
      readonly at: Position
    }

export interface HaCf {
  readonly file: string
  readonly keepalive: number
  readonly deadtime: number
  /** Upper bound of the adaptive deadline (ms), at least deadtime. */
  readonly deadtimeMax: number
  readonly warntime: number
  readonly initdead: number
  readonly deadping: number
  readonly udpport: number
  readonly autoFailback: boolean
  readonly realtime: boolean
  readonly media: readonly Medium[]
  readonly nodes: readonly string[]
  readonly nodesAt: Position
  readonly ping: readonly string[]
  readonly eventListen: HostPort
  readonly authkeysFile: string
  readonly haresourcesFile: string
  readonly resourceDirs: readonly string[]
  readonly stateDir: string
}

export interface Config extends HaCf {
  readonly localNode: string
  readonly peerNode: string
  readonly auth: AuthKeys
  readonly groups: readonly ResourceGroup[]
  /** agent name -> absolute path of the script. */
  readonly agents: Readonly<Record<string, string>>
}

/** parseHaCf's result: the kit's one shape (config only when no error). */
export type ParseResult<T> = ConfigResult<T>

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/
const IFACE = /^[A-Za-z0-9_.:@-]{1,15}$/
const TIME_RANGE = {
  keepalive: [5, 60_000],
  deadtime: [15, 3_600_000],
} as const

/** heartbeat directives we know but do not implement: named in the error. */
const UNSUPPORTED = new Set([
  'serial',
  'baud',
  'stonith',
  'stonith_host',
  'watchdog',
  'respawn',
  'apiauth',
  'crm',
  'pacemaker',
  'logfile',
  'debugfile',
  'logfacility',
  'use_logd',
  'ping_group',
  'hopfudge',
  'debug',
  'msgfmt',
  'compression',
  'compression_threshold',
  'traditional_compression',
  'max_rexmit_delay',
  'conn_logd_time',
  'autojoin',
  'coredumps',
  'uuidfrom',
  'hbgenmethod',
  'deadtime_warn',
  'rtprio',
  'generation_file',
  'nice_failback',
])

type TimeName =
  | 'keepalive'
  | 'deadtime'
  | 'deadtime_max'
  | 'warntime'
  | 'initdead'
  | 'deadping'

/** What the directives of ha.cf set; parseHaCf checks it as a whole after. */
interface Draft {
  readonly times: Partial<Record<TimeName, { ms: number; at: Position }>>
  udpport: number
  autoFailback: boolean
  realtime: boolean
  readonly media: Medium[]
  readonly nodes: string[]
  nodesAt: Position
  readonly ping: string[]
  eventListen: HostPort
  authkeysFile: string
  haresourcesFile: string
  resourceDirs: string[] | undefined
  stateDir: string
  /** A path as written, relative to the directory of ha.cf. */
  path(p: string): string
}

type Apply = DirectiveApply<Draft>

/** A one-value directive: read as `type`, then stored by `set`. */
const one = <T>(type: ValueType<T>, set: (d: Draft, v: T) => void): Apply =>
  valueDirective(type, set)

/** heartbeat's times: bare seconds, or with a unit (500ms). */
const time: ValueType<number> = {
  parse(raw) {
    const ms = parseDuration(raw, 's')
    return ms !== undefined && ms > 0 ? ms : undefined
  },
  expect: 'a time: seconds, or with an ms suffix (500ms)',
}

const timeDirective =
  (name: TimeName): Apply =>
  (d, args, l, issues) =>
    one(time, (dd, ms) => {
      dd.times[name] = { ms, at: l }
    })(d, args, l, issues, name)

const onOff = { ...bool, expect: 'on or off' }
const iface = (a: string): boolean => IFACE.test(a)

const DIRECTIVES: Readonly<Record<string, Apply>> = {
  keepalive: timeDirective('keepalive'),
  deadtime: timeDirective('deadtime'),
  deadtime_max: timeDirective('deadtime_max'),
  warntime: timeDirective('warntime'),
  initdead: timeDirective('initdead'),
  deadping: timeDirective('deadping'),
  udpport(d, args, l, issues, name) {
    const v = readOne(
      issues,
      l,
      name,
      { ...int(1, 65535), expect: '1..65535' },
      args,
    )
    if (v === undefined) return
    if (d.media.some(m => m.kind !== 'mcast')) {
      issues.error(
        l,
        'udpport must come before the bcast/ucast lines that use it',
        String(args[0]),
      )
    }
    d.udpport = v
  },
  bcast(d, args, l, issues) {
    if (args.length === 0) issues.error(l, 'bcast needs at least one interface')
    for (const a of args) {
      if (!iface(a)) issues.error(l, 'bad interface name', a)
      else d.media.push({ kind: 'bcast', iface: a, at: l })
    }
  },
  ucast(d, args, l, issues) {
    const [name = '', peer = ''] = args
    if (args.length !== 2)
      issues.error(
        l,
        'ucast takes an interface and a peer IPv4 address',
        args.join(' '),
      )
    else if (!iface(name)) issues.error(l, 'bad interface name', name)
    else if (!isIPv4(peer))
      issues.error(l, 'ucast peer must be an IPv4 address', peer)
    else d.media.push({ kind: 'ucast', iface: name, peer, at: l })
  },
  mcast(d, args, l, issues) {
    const [name = '', group = '', portText = '', ttlText = '', loopText = ''] =
      args
    if (args.length !== 5) {
      issues.error(
        l,
        'mcast takes: interface group port ttl loop',
        args.join(' '),
      )
      return
    }
    const port = parseIntRange(portText, 1, 65535)
    const ttl = parseIntRange(ttlText, 1, 255)
    const loop = parseIntRange(loopText, 0, 1)
    const first = Number(group.split('.')[0])
    if (!iface(name)) issues.error(l, 'bad interface name', name)
    else if (!isIPv4(group) || first < 224 || first > 239) {
      issues.error(
        l,
        'mcast group must be an IPv4 multicast address (224.0.0.0/4)',
        group,
      )
    } else if (port === undefined)
      issues.error(l, 'mcast port must be 1..65535', portText)
    else if (ttl === undefined)
      issues.error(l, 'mcast ttl must be 1..255', ttlText)
    else if (loop === undefined)
      issues.error(l, 'mcast loop must be 0 or 1', loopText)
    else
      d.media.push({
        kind: 'mcast',
        iface: name,
        group,
        port,
        ttl,
        loop: loop === 1,
        at: l,
      })
  },
  node(d, args, l, issues) {
    if (args.length === 0) issues.error(l, 'node needs a name')
    for (const a of args) {
      if (!NODE_NAME.test(a)) issues.error(l, 'bad node name', a)
      else if (d.nodes.includes(a)) issues.error(l, 'node listed twice', a)
      else {
        d.nodes.push(a)
        d.nodesAt = l
      }
    }
  },
  auto_failback(d, args, l, issues, name) {
    const v = oneArg(issues, l, name, args)
    if (v === 'legacy') {
      issues.warn(l, 'auto_failback legacy is treated as on')
      d.autoFailback = true
    } else if (v !== undefined) {
      const b = readValue(issues, l, name, onOff, v)
      if (b !== undefined) d.autoFailback = b
    }
  },
  realtime: one(onOff, (d, v) => {
    d.realtime = v
  }),
  ping(d, args, l, issues) {
    if (args.length === 0) issues.error(l, 'ping needs at least one address')
    for (const a of args) {
      if (!isIPv4(a)) issues.error(l, 'ping node must be an IPv4 address', a)
      else d.ping.push(a)
    }
  },
  event_listen: one({ ...hostPort(), expect: 'host:port' }, (d, v) => {
    d.eventListen = v
  }),
  authkeys: one(text, (d, v) => {
    d.authkeysFile = d.path(v)
  }),
  haresources: one(text, (d, v) => {
    d.haresourcesFile = d.path(v)
  }),
  resource_dir(d, args, l, issues) {
    if (args.length === 0) issues.error(l, 'resource_dir needs a directory')
    d.resourceDirs = [...(d.resourceDirs ?? []), ...args.map(a => d.path(a))]
  },
  state_dir: one(text, (d, v) => {
    d.stateDir = d.path(v)
  }),
}

/** Parses ha.cf; never throws (the kit's one result shape). */
export function parseHaCf(text: string, file: string): ParseResult<HaCf> {
  const issues = new IssueList()
  const base = dirname(file)
  const d: Draft = {
    times: {},
    udpport: DEFAULTS.udpport,
    autoFailback: DEFAULTS.auto_failback,
    realtime: DEFAULTS.realtime,
    media: [],
    nodes: [],
    nodesAt: { file, line: 0 },
    ping: [],
    eventListen: parseHostPort(DEFAULTS.event_listen) as HostPort,
    authkeysFile: join(base, 'authkeys'),
    haresourcesFile: join(base, 'haresources'),
    resourceDirs: undefined,
    stateDir: DEFAULTS.state_dir,
    path: p => (isAbsolute(p) ? p : join(base, p)),
  }
  for (const l of sourceLines(text, file)) {
    const [name = '', ...args] = splitWords(l.text)
    const apply = lookupDirective(DIRECTIVES, name)
    if (apply) apply(d, args, l, issues, name)
    else
      issues.error(
        l,
        UNSUPPORTED.has(name)
          ? `heartbeat directive "${name}" is not supported by heartbeatd; remove it (see README)`
          : `unknown directive "${name}"`,
        name,
      )
  }
  const { times, udpport, autoFailback, realtime, media, nodes, nodesAt } = d
  const { ping, eventListen, authkeysFile, haresourcesFile } = d
  const { resourceDirs, stateDir } = d

  const ms = (k: keyof typeof times, dflt: number): number =>
    times[k]?.ms ?? dflt
  const at = (k: keyof typeof times): Position =>
    times[k]?.at ?? { file, line: 0 }
  const keepalive = ms('keepalive', DEFAULTS.keepalive)
  const deadtime = ms(
    'deadtime',
    times.keepalive
      ? Math.max(DEFAULTS.deadtime, 3 * keepalive + 10)
      : DEFAULTS.deadtime,
  )
  const deadtimeMax = ms(
    'deadtime_max',
    DEFAULTS.deadtime_max_factor * deadtime,
  )
  const warntime = ms(
    'warntime',
    Math.max(keepalive + 1, Math.round(deadtime * 0.6)),
  )
  const initdead = ms('initdead', Math.max(DEFAULTS.initdead, 2 * deadtime))
  const deadping = ms('deadping', Math.max(DEFAULTS.deadping, deadtime))
  if (
    keepalive < TIME_RANGE.keepalive[0] ||
    keepalive > TIME_RANGE.keepalive[1]
  ) {
    issues.error(
      at('keepalive'),
      'keepalive must be 5ms..60s',
      `${keepalive}ms`,
    )
  }
  if (deadtime <= 2 * keepalive) {
    issues.error(
      at('deadtime'),
      `deadtime must be more than 2*keepalive (${2 * keepalive}ms)`,
      `${deadtime}ms`,
    )
  }
  if (deadtimeMax < deadtime) {
    issues.error(
      at('deadtime_max'),
      `deadtime_max must be at least deadtime (${deadtime}ms)`,
      `${deadtimeMax}ms`,
    )
  }
  if (warntime <= keepalive || warntime >= deadtime) {
    issues.error(
      at('warntime'),
      'warntime must be between keepalive and deadtime',
      `${warntime}ms`,
    )
  }
  if (initdead < deadtime)
    issues.error(
      at('initdead'),
      'initdead must be at least deadtime',
      `${initdead}ms`,
    )
  if (deadping <= 2 * keepalive) {
    issues.error(
      at('deadping'),
      'deadping must be more than 2*keepalive',
      `${deadping}ms`,
    )
  }
  if (nodes.length !== 2) {
    issues.error(
      nodesAt,
      'exactly two node names are needed (1+1 redundancy)',
      nodes.join(' '),
    )
  }
  if (media.length === 0)
    issues.error(
      { file, line: 0 },
      'no heartbeat media: add bcast, mcast or ucast lines',
    )
  return configResult(issues, () => ({
    file,
    keepalive,
    deadtime,
    deadtimeMax,
    warntime,
    initdead,
    deadping,
    udpport,
    autoFailback,
    realtime,
    media,
    nodes,
    nodesAt,
    ping,
    eventListen,
    authkeysFile,
    haresourcesFile,
    resourceDirs: [
      ...(resourceDirs ?? DEFAULTS.resource_dir),
      BUILTIN_RESOURCE_DIR,
    ],
    stateDir,
  }))
}

export interface LoadOptions {
  /** Local node name; default `uname -n` (os.hostname()). */
  readonly node?: string
}

/** Reads ha.cf, authkeys and haresources; throws ConfigError (exit 3). */
export async function loadConfig(
  file: string,
  opts: LoadOptions = {},
): Promise<Config> {
  const cf = configOrThrow(parseHaCf(await readConfigFile(file), file))
  const localNode = opts.node ?? hostname()
  if (!cf.nodes.includes(localNode))
    throw hbError('HB_ERR_CONFIG_LOCAL_NODE', localNode, file)
  const peerNode = cf.nodes.find(n => n !== localNode) as string

  const more = new IssueList()
  let readableByOthers: boolean
  try {
    readableByOthers = await isReadableByOthers(cf.authkeysFile)
  } catch {
    readableByOthers = false // readConfigFile below reports the missing file
  }
  const authText = await readConfigFile(cf.authkeysFile)
  if (readableByOthers) {
    const { statSync } = await import('node:fs')
    const mode = (statSync(cf.authkeysFile).mode & 0o777).toString(8)
    throw hbError('HB_ERR_AUTHKEYS_MODE', cf.authkeysFile, mode)
  }
  const auth = parseAuthkeys(authText, cf.authkeysFile, more)
  const groups = existsSync(cf.haresourcesFile)
    ? parseHaresources(
        await readConfigFile(cf.haresourcesFile),
        cf.haresourcesFile,
        cf.nodes,
        more,
      )
    : []
  const agents: Record<string, string> = {}
  for (const g of groups) {
    for (const r of g.resources) {
      if (agents[r.agent]) continue
      const found = findAgent(r.agent, cf.resourceDirs)
      if (found) agents[r.agent] = found
      else
        more.error(
          g.at,
          `no executable resource agent "${r.agent}" in ${cf.resourceDirs.join(', ')}`,
          r.spec,
        )
    }
  }
  more.throwIfAny()
  return deepFreeze({
    ...cf,
    localNode,
    peerNode,
    auth: auth as AuthKeys,
    groups,
    agents,
  })
}

export function findAgent(
  name: string,
  dirs: readonly string[],
): string | undefined {
  for (const d of dirs) {
    const p = join(d, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // next directory
    }
  }
  return undefined
}

/** Directives a SIGHUP cannot change (they own sockets or resources). */
export function restartOnlyChanges(a: Config, b: Config): string[] {
  const out: string[] = []
  const same = (x: unknown, y: unknown): boolean =>
    JSON.stringify(x) === JSON.stringify(y)
  const strip = (m: readonly Medium[]) => m.map(({ at: _at, ...rest }) => rest)
  if (!same(strip(a.media), strip(b.media))) out.push('bcast/mcast/ucast')
  if (a.udpport !== b.udpport) out.push('udpport')
  if (!same(a.nodes, b.nodes)) out.push('node')
  if (!same(a.eventListen, b.eventListen)) out.push('event_listen')
  if (!same(a.ping, b.ping)) out.push('ping')
  if (a.stateDir !== b.stateDir) out.push('state_dir')
  if (a.realtime !== b.realtime) out.push('realtime')
  const g = (c: Config) =>
    c.groups.map(x => ({ home: x.home, r: x.resources.map(r => r.spec) }))
  if (!same(g(a), g(b))) out.push('haresources')
  return out
}
