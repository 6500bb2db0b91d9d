// tmd.conf: the thesis's traffic-manager file (3.22.3.1) plus the virtual
// services this implementation forwards for. Global directives sit at
// column 0; a `virtual <vip>:<port>` line opens a block whose directives are
// indented beneath it (as in ldirectord.cf). parseConfig is pure and names
// every problem with file:line and the bad value; loadConfig does the I/O.

import { isIP } from 'node:net'
import {
  IssueList,
  KeyFileError,
  deepFreeze,
  formatHostPort,
  parseHostPort,
  parseIntRange,
  readConfigFile,
  readKeyFile,
  sourceLines,
  splitWords,
  type Position,
  type ConfigResult,
  oneArg,
  configResult,
  configOrThrow,
  type ValueType,
  oneOf,
  bool,
  readValue,
  int,
  duration,
  lookupDirective,
} from '@has/daemon-kit/core'
import { SCHEDULERS, type SchedulerName } from './schedulers.js'
import { parseNftOptions } from './nft/ruleset.js'
import { parseDrOptions } from './nft/dr-ruleset.js'

export const DEFAULTS = Object.freeze({
  /** UDP port for load reports. */
  port: 7070,
  /** Report listen address. */
  listen: '0.0.0.0',
  /** ms without a report before a node leaves. */
  timeout: 3000,
  /** Proxy worker processes; `auto` = one per core. */
  workers: 'auto' as const,
  /** ms SIGTERM waits for open connections. */
  shutdownDeadline: 30_000,
  scheduler: 'p2c' as SchedulerName,
  dataplane: 'proxy',
  /** s; 0 = no client affinity. */
  persistent: 0,
  /** ms per connect attempt to a node. */
  connectTimeout: 2000,
  /** ms without bytes in either direction before a connection closes. */
  idleTimeout: 300_000,
  /** Affinity entries per service (and per proxy process); LRU beyond. */
  persistentMax: 16_384,
  /** Auto-joined nodes held at once, over all services (`autojoin-max`). */
  autojoinMax: 64,
  /** Affinity granularity: IPv4 netmask length (IPVS's default /32). */
  persistentNetmask: 32,
  /** Affinity granularity: IPv6 prefix length (one host's privacy addresses share its /64). */
  persistentPrefix6: 64,
})

export type NodeRole = 'active' | 'standby'

export interface NodeConfig {
  readonly address: string
  readonly role: NodeRole
  /** The directive that declared it (`traffic2`, `standby1`, or `standby`). */
  readonly label: string
}

export interface ServiceNode {
  readonly address: string
  readonly port: number
}

export interface ServiceConfig {
  /** `<vip>:<port>` (IPv6 bracketed): the name control commands use. */
  readonly name: string
  readonly address: string
  readonly port: number
  readonly family: 4 | 6
  readonly scheduler: SchedulerName
  readonly dataplane: string
  readonly nodes: readonly ServiceNode[]
  readonly persistentMs: number
  /** Affinity table cap, and the prefix lengths that group clients. */
  readonly persistentMax: number
  readonly persistentNetmask: number
  readonly persistentPrefix6: number
  readonly connectTimeoutMs: number
  readonly idleTimeoutMs: number
  /** `fail-static on|off` (default on): keep silent nodes when none serves (plan.ts). */
  readonly failStatic: boolean
  /** `option <key> <value>` lines, handed to the data plane. */
  readonly options: Readonly<Record<string, string>>
  /**
   * `autojoin <address>/<prefix>` lines: unlisted nodes in these ranges
   * whose keyed reports verify join this service (issue 17.6).
   */
  readonly autojoin: readonly string[]
  /** Where the block starts (for errors found after parsing). */
  readonly at: Position
}

export interface TmConfig {
  readonly file: string
  readonly masters: readonly string[]
  readonly nodes: readonly NodeConfig[]
  readonly port: number
  readonly listen: string
  readonly errorLog?: string
  readonly timeoutMs: number
  /** Shared report key (inline, or read from key-file by loadConfig). */
  readonly key?: string
  readonly keyFile?: { readonly path: string; readonly at: Position }
  readonly workers: number | 'auto'
  readonly shutdownDeadlineMs: number
  readonly services: readonly ServiceConfig[]
  /** `report-from` lines: extra addresses or ranges reports may come from. */
  readonly reportFrom: readonly string[]
  /** Cap on auto-joined nodes held at once (all services). */
  readonly autojoinMax: number
}

/** parseConfig's result: the kit's one shape (config only when no error). */
export type ParseResult = ConfigResult<TmConfig>

/** Data planes a virtual service may select (data-plane-registry.ts). */
export const DATA_PLANES = ['proxy', 'nftables', 'nftables-dr'] as const

interface ServiceDraft {
  at: Position
  name: string
  address: string
  port: number
  family: 4 | 6
  scheduler?: SchedulerName
  dataplane?: string
  nodes: (ServiceNode & { at: Position })[]
  persistentMs?: number
  persistentMax?: number
  persistentNetmask?: number
  persistentPrefix6?: number
  connectTimeoutMs?: number
  idleTimeoutMs?: number
  failStatic?: boolean
  options: Record<string, string>
  /** Where each option was set, for its error. */
  optionAt: Record<string, Position>
  autojoin: { cidr: string; at: Position }[]
}

/** The one-value global directives, as parsed. */
interface Globals {
  port?: number
  listen?: string
  errorLog?: string
  timeoutMs?: number
  key?: string
  keyFile?: { path: string; at: Position }
  workers?: number | 'auto'
  shutdownDeadlineMs?: number
  autojoinMax?: number
}

/**
 * A global `name value` directive; `name` is how it is quoted in "given
 * twice" (the file's case does not matter: keys are lowercased).
 */
interface GlobalDirective {
  readonly name: string
  apply(g: Globals, v: string, at: Position, issues: IssueList): void
}

/** A value type with tmd.conf's wording: "<name> must be <expect>". */
const typed = <T>(
  name: string,
  type: ValueType<T>,
  set: (g: Globals, v: T) => void,
): GlobalDirective => ({
  name,
  apply(g, raw, at, issues) {
    const v = readValue(issues, at, name, type, raw)
    if (v !== undefined) set(g, v)
  },
})

const WORKERS: ValueType<number | 'auto'> = {
  parse: raw => (raw === 'auto' ? 'auto' : parseIntRange(raw, 0, 64)),
  expect: 'auto or 0..64',
}

const KEY_FILE: GlobalDirective = {
  name: 'key-file',
  apply(g, v, at, issues) {
    if (!v.startsWith('/') && !v.startsWith('.'))
      issues.error(at, 'key-file needs a path', v)
    else g.keyFile = { path: v, at: { file: at.file, line: at.line } }
  },
}

const GLOBALS: Readonly<Record<string, GlobalDirective>> = {
  // 0 picks a free port (tests); the bound one is logged.
  port: typed('port', { ...int(0, 65535), expect: '0..65535' }, (g, v) => {
    g.port = v
  }),
  listen: {
    name: 'listen',
    apply(g, v, at, issues) {
      const a = v.replace(/^\[(.*)\]$/, '$1')
      if (isIP(a) === 0)
        issues.error(at, 'listen needs an IPv4 or IPv6 address', v)
      else g.listen = a
    },
  },
  errorlog: {
    name: 'ErrorLog',
    apply(g, v, at, issues) {
      if (!v.startsWith('/'))
        issues.error(at, 'ErrorLog needs an absolute path', v)
      else g.errorLog = v
    },
  },
  timeout: typed(
    'timeout',
    {
      ...duration(10, 3_600_000, 'ms'),
      expect: 'a duration from 10ms to 1h (bare number: ms)',
    },
    (g, v) => {
      g.timeoutMs = v
    },
  ),
  key: {
    name: 'key',
    apply(g, v, at, issues) {
      // The key itself never reaches an error message.
      if (v.length < 16)
        issues.error(at, 'key must be at least 16 characters', '<hidden>')
      else g.key = v
    },
  },
  'key-file': KEY_FILE,
  keyfile: KEY_FILE,
  workers: typed('workers', WORKERS, (g, v) => {
    g.workers = v
  }),
  'shutdown-deadline': typed(
    'shutdown-deadline',
    {
      ...duration(0, 86_400_000, 's'),
      expect: 'a duration up to 24h (bare number: s)',
    },
    (g, v) => {
      g.shutdownDeadlineMs = v
    },
  ),
  'autojoin-max': typed(
    'autojoin-max',
    { ...int(1, 65536), expect: '1..65536 nodes' },
    (g, v) => {
      g.autojoinMax = v
    },
  ),
}
/** Parses tmd.conf text; never throws. */
export function parseConfig(text: string, file: string): ParseResult {
  const issues = new IssueList()
  const masters: string[] = []
  const reportFrom: string[] = []
  const nodes: NodeConfig[] = []
  const seenLabels = new Map<string, number>()
  const seenGlobal = new Map<string, number>()
  const services: ServiceDraft[] = []
  let current: ServiceDraft | undefined
  const g: Globals = {}

  const once = (at: Position, key: string): boolean => {
    const prev = seenGlobal.get(key)
    if (prev !== undefined) {
      issues.error(at, `"${key}" given twice (first on line ${prev})`)
      return false
    }
    seenGlobal.set(key, at.line)
    return true
  }

  // Directives that build lists or open a block (CONTRIBUTING.md "Config").
  const LISTS: Readonly<
    Record<string, (line: Position, key: string, args: string[]) => void>
  > = { 'report-from': reportFromLine, virtual: virtualLine }

  for (const line of sourceLines(text, file)) {
    const words = splitWords(line.text)
    const [rawKey = '', ...args] = words
    const key = rawKey.toLowerCase()
    if (line.indent > 0) {
      if (!current) {
        issues.error(
          line,
          'indented directive outside a "virtual" block',
          rawKey,
        )
        continue
      }
      serviceDirective(current, line, key, rawKey, args, issues)
      continue
    }
    current = undefined
    // The thesis lists standby nodes as bare addresses under a comment.
    if (isIP(rawKey) !== 0 && args.length === 0) {
      addNode(line, 'standby', 'standby', rawKey)
      continue
    }
    const numbered = /^(master|traffic|standby)(\d+)$/.exec(key)
    if (numbered) {
      const [, kind = '', n = ''] = numbered
      const label = `${kind}${Number(n)}`
      const prev = seenLabels.get(label)
      if (prev !== undefined) {
        issues.error(line, `"${label}" given twice (first on line ${prev})`)
        continue
      }
      seenLabels.set(label, line.line)
      const addr = oneArg(issues, line, rawKey, args)
      if (addr === undefined) continue
      if (isIP(addr) === 0) {
        issues.error(line, `${rawKey} needs an IPv4 or IPv6 address`, addr)
        continue
      }
      if (kind === 'master') masters.push(addr)
      else addNode(line, kind === 'traffic' ? 'active' : 'standby', label, addr)
      continue
    }
    const global = lookupDirective(GLOBALS, key)
    if (global) {
      const v = oneArg(issues, line, rawKey, args)
      if (v !== undefined && once(line, global.name))
        global.apply(g, v, line, issues)
      continue
    }
    const listed = lookupDirective(LISTS, key)
    if (listed) listed(line, rawKey, args)
    else issues.error(line, 'unknown directive', rawKey)
  }

  /** `report-from <address>[/<prefix>] ...`: adds to the allowed senders. */
  function reportFromLine(line: Position, _key: string, args: string[]): void {
    for (const v of args.length ? args : ['']) {
      const [a = '', len, extra] = v.split('/')
      const fam = isIP(a)
      const n =
        len === undefined ? 0 : parseIntRange(len, 0, fam === 6 ? 128 : 32)
      if (fam === 0 || n === undefined || extra !== undefined) {
        issues.error(
          line,
          'report-from needs an address or <address>/<prefix>',
          v,
        )
      } else reportFrom.push(v)
    }
  }

  /** `virtual <ip>:<port>`: opens a service block. */
  function virtualLine(line: Position, rawKey: string, args: string[]): void {
    const v = oneArg(issues, line, rawKey, args)
    if (v === undefined) return
    const hp = parseHostPort(v)
    const family = hp ? isIP(hp.host) : 0
    if (!hp || family === 0 || !/:\d+$/.test(v)) {
      issues.error(line, 'virtual needs <ip>:<port> (IPv6 as [addr]:port)', v)
      // Still open a block so its indented lines are not misreported.
      current = draft(line, v, '', 0, 4)
      return
    }
    const name = formatHostPort(hp)
    const dup = services.find(s => s.name === name)
    if (dup)
      issues.error(
        line,
        `virtual ${name} given twice (first on line ${dup.at.line})`,
        v,
      )
    current = draft(line, name, hp.host, hp.port, family as 4 | 6)
    if (!dup) services.push(current)
  }

  function addNode(
    at: Position,
    role: NodeRole,
    label: string,
    address: string,
  ): void {
    const dup = nodes.find(n => n.address === address)
    if (dup) {
      issues.error(
        at,
        `node ${address} already declared as ${dup.label}`,
        address,
      )
      return
    }
    nodes.push({ address, role, label })
  }

  if (g.key !== undefined && g.keyFile) {
    issues.error(g.keyFile.at, 'give either key or key-file, not both')
  }
  const timeoutMs = g.timeoutMs ?? DEFAULTS.timeout
  const built: ServiceConfig[] = []
  for (const s of services) {
    checkPlaneOptions(s, issues)
    if (s.nodes.length === 0 && s.autojoin.length === 0)
      issues.error(s.at, `virtual ${s.name} has no node lines`)
    // Without a key anyone who can send UDP here could add a node.
    const aj = s.autojoin[0]
    if (aj && g.key === undefined && !g.keyFile) {
      issues.error(
        aj.at,
        'autojoin needs a report key (key or key-file): only keyed reports may add a node',
        aj.cidr,
      )
    }
    for (const n of s.nodes) {
      if (!nodes.some(d => d.address === n.address)) {
        issues.error(
          n.at,
          'node is not declared as a traffic<N> or standby<N> node',
          n.address,
        )
      }
    }
    built.push({
      name: s.name,
      address: s.address,
      port: s.port,
      family: s.family,
      scheduler: s.scheduler ?? DEFAULTS.scheduler,
      dataplane: s.dataplane ?? DEFAULTS.dataplane,
      nodes: s.nodes.map(n => ({ address: n.address, port: n.port })),
      persistentMs: s.persistentMs ?? DEFAULTS.persistent,
      persistentMax: s.persistentMax ?? DEFAULTS.persistentMax,
      persistentNetmask: s.persistentNetmask ?? DEFAULTS.persistentNetmask,
      persistentPrefix6: s.persistentPrefix6 ?? DEFAULTS.persistentPrefix6,
      connectTimeoutMs: s.connectTimeoutMs ?? DEFAULTS.connectTimeout,
      idleTimeoutMs: s.idleTimeoutMs ?? DEFAULTS.idleTimeout,
      failStatic: s.failStatic ?? true,
      options: s.options,
      autojoin: s.autojoin.map(a => a.cidr),
      at: s.at,
    })
  }
  return configResult(issues, (): TmConfig => ({
    file,
    masters,
    nodes,
    port: g.port ?? DEFAULTS.port,
    listen: g.listen ?? DEFAULTS.listen,
    ...(g.errorLog !== undefined ? { errorLog: g.errorLog } : {}),
    timeoutMs,
    ...(g.key !== undefined ? { key: g.key } : {}),
    ...(g.keyFile ? { keyFile: g.keyFile } : {}),
    workers: g.workers ?? DEFAULTS.workers,
    shutdownDeadlineMs: g.shutdownDeadlineMs ?? DEFAULTS.shutdownDeadline,
    services: built,
    reportFrom,
    autojoinMax: g.autojoinMax ?? DEFAULTS.autojoinMax,
  }))
}

function draft(
  at: Position,
  name: string,
  address: string,
  port: number,
  family: 4 | 6,
): ServiceDraft {
  return {
    at: { file: at.file, line: at.line },
    name,
    address,
    port,
    family,
    nodes: [],
    options: {},
    optionAt: {},
    autojoin: [],
  }
}

/** A set-once setting of a virtual service block. */
interface ServiceSetting {
  /** As quoted in messages (aliases such as `netmask` report this name). */
  readonly name: string
  readonly type: ValueType<unknown>
  isSet(s: ServiceDraft): boolean
  set(s: ServiceDraft, v: unknown): void
}

const setting = <K extends keyof ServiceDraft>(
  name: string,
  field: K,
  type: ValueType<NonNullable<ServiceDraft[K]>>,
): ServiceSetting => ({
  name,
  type,
  isSet: s => s[field] !== undefined,
  set: (s, v) => {
    s[field] = v as ServiceDraft[K]
  },
})

const SCHEDULER: ValueType<SchedulerName> = {
  // `twos` is the thesis's name for power-of-two-choices.
  parse: raw => {
    const name = raw === 'twos' ? 'p2c' : raw
    return (SCHEDULERS as readonly string[]).includes(name)
      ? (name as SchedulerName)
      : undefined
  },
  expect: `one of ${SCHEDULERS.join(', ')}`,
}

const PERSISTENT = setting('persistent', 'persistentMs', {
  ...duration(0, 86_400_000, 's'),
  expect: 'a duration up to 24h (bare number: s; 0 = off)',
})
const NETMASK = setting('persistent-netmask', 'persistentNetmask', {
  parse: netmaskLength,
  expect: 'a dotted IPv4 netmask or a length 0..32',
})

const SERVICE_SETTINGS: Readonly<Record<string, ServiceSetting>> = {
  scheduler: setting('scheduler', 'scheduler', SCHEDULER),
  dataplane: setting('dataplane', 'dataplane', {
    ...oneOf(DATA_PLANES),
    expect: `one of ${DATA_PLANES.join(', ')}`,
  }),
  persistent: PERSISTENT,
  persistence: PERSISTENT,
  'persistent-max': setting('persistent-max', 'persistentMax', {
    ...int(1, 10_000_000),
    expect: '1..10000000 entries',
  }),
  'persistent-netmask': NETMASK,
  netmask: NETMASK,
  'persistent-prefix6': setting('persistent-prefix6', 'persistentPrefix6', {
    parse: raw => parseIntRange(raw.replace(/^\//, ''), 0, 128),
    expect: 'an IPv6 prefix length 0..128',
  }),
  'connect-timeout': setting('connect-timeout', 'connectTimeoutMs', {
    ...duration(1, 600_000, 'ms'),
    expect: 'a duration from 1ms to 10m (bare number: ms)',
  }),
  'idle-timeout': setting('idle-timeout', 'idleTimeoutMs', {
    ...duration(0, 86_400_000, 's'),
    expect: 'a duration up to 24h (bare number: s; 0 = none)',
  }),
  'fail-static': setting('fail-static', 'failStatic', bool),
}

function serviceDirective(
  s: ServiceDraft,
  line: Position,
  key: string,
  rawKey: string,
  args: string[],
  issues: IssueList,
): void {
  const seen = (name: string, has: boolean): boolean => {
    if (has) issues.error(line, `"${name}" given twice in virtual ${s.name}`)
    return has
  }
  const listed = lookupDirective(SERVICE_LISTS, key)
  if (listed) {
    listed(s, line, rawKey, args, issues)
    return
  }
  const v = oneArg(issues, line, rawKey, args)
  if (v === undefined) return
  // Set-once settings: "<name> must be <range>", or given twice.
  const setting = lookupDirective(SERVICE_SETTINGS, key)
  if (setting) {
    if (seen(setting.name, setting.isSet(s))) return
    const value = readValue(issues, line, setting.name, setting.type, v)
    if (value !== undefined) setting.set(s, value)
    return
  }
  issues.error(line, `unknown directive in virtual ${s.name}`, rawKey)
}

/** A block directive that adds to one of the service's lists. */
type ServiceListDirective = (
  s: ServiceDraft,
  line: Position,
  rawKey: string,
  args: string[],
  issues: IssueList,
) => void

/** `node <ip>[:port]` (LVS's `real`): a node of this service. */
const nodeLine: ServiceListDirective = (s, line, rawKey, args, issues) => {
  const v = oneArg(issues, line, rawKey, args)
  if (v === undefined) return
  const hp = parseHostPort(v, s.port)
  if (!hp || isIP(hp.host) === 0 || hp.port === 0) {
    issues.error(line, 'node needs <ip>[:port] (IPv6 as [addr]:port)', v)
    return
  }
  if (s.nodes.some(n => n.address === hp.host)) {
    issues.error(line, `node ${hp.host} listed twice in virtual ${s.name}`, v)
    return
  }
  s.nodes.push({
    address: hp.host,
    port: hp.port,
    at: { file: line.file, line: line.line },
  })
}

/** `autojoin <address>/<prefix>`: unlisted nodes in it may join. */
const autojoinLine: ServiceListDirective = (s, line, rawKey, args, issues) => {
  const v = oneArg(issues, line, rawKey, args)
  if (v === undefined) return
  const [a = '', len, extra] = v.split('/')
  const fam = isIP(a)
  const n =
    len === undefined
      ? fam === 6
        ? 128
        : 32
      : parseIntRange(len, 0, fam === 6 ? 128 : 32)
  if (fam === 0 || n === undefined || extra !== undefined) {
    issues.error(line, 'autojoin needs <address>/<prefix> (IPv4 or IPv6)', v)
  } else
    s.autojoin.push({
      cidr: `${a}/${n}`,
      at: { file: line.file, line: line.line },
    })
}

/** `option <key> <value>`: the data plane's own setting. */
const optionLine: ServiceListDirective = (s, line, _key, args, issues) => {
  const [k = '', v, ...extra] = args
  if (v === undefined || extra.length || !/^[a-z][a-z0-9_-]{0,31}$/.test(k)) {
    issues.error(line, 'option takes <key> <value>', args.join(' '))
  } else {
    s.options[k] = v
    s.optionAt[k] = { file: line.file, line: line.line }
  }
}

/**
 * A kernel plane's option values, checked here so that --check-config and
 * a reload name file:line (the plane would refuse them only at start).
 * The plane's own parser decides; a failure is charged to each line that
 * fails alone, or to the virtual line when only the combination does.
 * Keys a plane does not know belong to the control plane and pass.
 */
function checkPlaneOptions(s: ServiceDraft, issues: IssueList): void {
  const parse =
    s.dataplane === 'nftables'
      ? parseNftOptions
      : s.dataplane === 'nftables-dr'
        ? parseDrOptions
        : undefined
  const failure = (o: Record<string, string>): string | undefined => {
    try {
      parse?.(o)
      return undefined
    } catch (e) {
      return (e as Error).message
    }
  }
  const all = failure(s.options)
  if (all === undefined) return
  let charged = false
  for (const [k, v] of Object.entries(s.options)) {
    const alone = failure({ [k]: v })
    if (alone === undefined) continue
    // The plane's message names the value already.
    issues.error(s.optionAt[k] ?? s.at, `option ${alone}`)
    charged = true
  }
  if (!charged) issues.error(s.at, `options: ${all}`)
}

const SERVICE_LISTS: Readonly<Record<string, ServiceListDirective>> = {
  node: nodeLine,
  real: nodeLine,
  autojoin: autojoinLine,
  option: optionLine,
}

/** `255.255.255.0`, `24` or `/24` to a prefix length; contiguous masks only. */
function netmaskLength(v: string): number | undefined {
  if (!v.includes('.')) return parseIntRange(v.replace(/^\//, ''), 0, 32)
  const o = v.split('.')
  if (o.length !== 4 || o.some(x => !/^\d{1,3}$/.test(x) || Number(x) > 255))
    return undefined
  const bits = o.map(x => Number(x).toString(2).padStart(8, '0')).join('')
  const len = bits.indexOf('0') < 0 ? 32 : bits.indexOf('0')
  return bits.slice(len).includes('1') ? undefined : len
}

/** Reads, parses, resolves the key file; throws ConfigError (exit 3). */
export async function loadConfig(path: string): Promise<TmConfig> {
  const text = await readConfigFile(path)
  let out = configOrThrow(parseConfig(text, path))
  const issues = new IssueList()
  if (out.keyFile) {
    let key: string | undefined
    try {
      // daemon-kit's key-file rule: 0600, >= 16 bytes, content trimmed.
      key = await readKeyFile(out.keyFile.path, { text: 'trim' })
    } catch (e) {
      issues.error(
        out.keyFile.at,
        `key-file ${e instanceof KeyFileError ? e.reason : String(e)}`,
        out.keyFile.path,
      )
    }
    issues.throwIfAny()
    out = { ...out, key: key as string }
  }
  return deepFreeze(out)
}
