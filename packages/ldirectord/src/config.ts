// ldirectord.cf: the classic grammar (global directives, then `virtual=`
// sections whose directives are indented) plus a few directives of our own
// for the HAS peers. Pure parseConfig(text, file) names every problem with
// file:line and the bad value; loadConfig(path) is the only I/O.
//
// Two leniencies make the thesis's sample (section 3.19.1) load as printed:
// directive names are case-insensitive, and a directive that only makes
// sense inside a virtual section (real, service, request...) belongs to the
// last `virtual=` even when it is not indented.

import { isIP } from 'node:net'
import {
  ConfigError,
  IssueList,
  KEY_MIN_BYTES,
  KeyFileError,
  deepFreeze,
  parseHostPort,
  parseIntRange,
  readConfigFile,
  readKeyFile,
  sourceLines,
  splitWords,
  type ConfigIssue,
  type HostPort,
  type ConfigResult,
  type SourceLine,
  type ValueType,
  duration as kitDuration,
  bool as kitBool,
} from '@has/daemon-kit'
import { ldError } from './errors.js'
import { parseReal, validRegex } from './real-line.js'
import type {
  CheckType,
  HttpMethod,
  LdConfig,
  RealServer,
  ServiceKind,
  VirtualService,
} from './config-types.js'
import { splitDirective } from './directive-line.js'

/** ldirectord's defaults (times in ms; ldirectord.cf takes seconds). */
export const DEFAULTS = Object.freeze({
  checktimeout: 5_000,
  negotiatetimeout: 30_000,
  checkinterval: 10_000,
  failurecount: 1,
  autoreload: false,
  quiescent: true,
  checktype: 'negotiate' as CheckType,
  scheduler: 'wrr',
  protocol: 'tcp',
  httpmethod: 'GET' as HttpMethod,
  checkcommand: '/bin/true',
  weight: 1,
  hasmode: false,
  /** Restart a failed application at most this often while it stays down. */
  restartinterval: 60_000,
  /** Attempts per check before it counts as failed (ldirectord's checkcount). */
  checkcount: 1,
})

export type {
  CheckType,
  HttpMethod,
  ServiceKind,
  Forwarding,
  RealServer,
  VirtualService,
  LdConfig,
} from './config-types.js'

/** parseConfig's result: the kit's one shape. */
export type ParseResult = ConfigResult<LdConfig>

type Scope = 'global' | 'virtual' | 'both'

// Lookup tables keyed by what the file says are Maps: a plain object would
// answer `constructor` or `__proto__` from its prototype.
const DIRECTIVES: ReadonlyMap<string, Scope> = new Map(
  Object.entries({
    checktimeout: 'both',
    negotiatetimeout: 'both',
    connecttimeout: 'both',
    checkinterval: 'both',
    failurecount: 'both',
    quiescent: 'both',
    fallback: 'both',
    fallback6: 'both',
    checkcount: 'both',
    restartcommand: 'both',
    autoreload: 'global',
    logfile: 'global',
    maintenancedir: 'global',
    fork: 'global',
    supervised: 'global',
    hasmode: 'global',
    trafficmanager: 'global',
    trafficmanagercontrol: 'global',
    trafficclientcontrol: 'global',
    reportkey: 'global',
    reportkeyfile: 'global',
    nodeaddress: 'global',
    restartinterval: 'global',
    real: 'virtual',
    real6: 'virtual',
    persistent: 'virtual',
    netmask: 'virtual',
    checktype: 'virtual',
    service: 'virtual',
    checkport: 'virtual',
    request: 'virtual',
    receive: 'virtual',
    httpmethod: 'virtual',
    virtualhost: 'virtual',
    checkcommand: 'virtual',
    scheduler: 'virtual',
    protocol: 'virtual',
    comment: 'virtual',
  } satisfies Record<string, Scope>),
)

/** ldirectord directives this implementation knows and refuses (why). */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map(
  Object.entries({
    callback: 'use SIGHUP/autoreload',
    fallbackcommand: 'the fallback is a traffic-manager node',
    emailalert: 'alert from the metrics instead',
    emailalertfreq: 'alert from the metrics instead',
    emailalertstatus: 'alert from the metrics instead',
    emailalertfrom: 'alert from the metrics instead',
    smtp: 'alert from the metrics instead',
    execute: 'run one ldirectord per file',
    cleanstop: 'weights stay as they are on exit',
    readdquiescent: 'no IPVS table to re-add to',
    ops: 'one-packet scheduling needs IPVS',
    login: 'only http/https negotiate checks',
    passwd: 'only http/https negotiate checks',
    database: 'only http/https negotiate checks',
    secret: 'only http/https negotiate checks',
    monitorfile: 'use status and /metrics',
    servicename: 'the service name is <vip>:<port>',
    cookie: 'only http/https negotiate checks',
  }),
)

const CHECKTYPES = ['connect', 'negotiate', 'ping', 'external', 'on', 'off']
const SCHEDULERS = [
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'mh',
  'fo',
  'ovf',
  'twos',
  'has',
  'p2c',
]
const DEFAULT_SERVICE: ReadonlyMap<number, ServiceKind> = new Map([
  [80, 'http'],
  [443, 'https'],
])

interface Raw {
  readonly value: string
  readonly at: SourceLine
}

interface VirtualDraft {
  readonly at: SourceLine
  readonly hp: HostPort
  /**
   * The header was refused (reported at its line): the lines under it
   * still belong to it and are checked, but it yields no service.
   */
  readonly rejected: boolean
  readonly reals: RealServer[]
  /** real= lines written, refused ones included (no second error for them). */
  realLines: number
  readonly set: Map<string, Raw>
}

/** Parses ldirectord.cf text; never throws. */
export function parseConfig(text: string, file: string): ParseResult {
  const issues = new IssueList()
  const globals = new Map<string, Raw>()
  const trafficmanagers: HostPort[] = []
  const virtuals: VirtualDraft[] = []
  let current: VirtualDraft | undefined

  for (const l of sourceLines(text, file, { issues })) {
    const d = splitDirective(l.text)
    if (!d) {
      issues.error(l, 'expected "directive = value"', l.text)
      continue
    }
    const name = d.name.toLowerCase()
    const value = d.value
    if (name === 'virtual' || name === 'virtual6') {
      // A refused header still opens its section, so the lines under it
      // are not applied to the previous one.
      current = startVirtual(l, name, value, issues)
      virtuals.push(current)
      continue
    }
    const why = UNSUPPORTED.get(name)
    if (why !== undefined) {
      issues.error(l, `directive "${name}" is not supported (${why})`, value)
      continue
    }
    const scope = DIRECTIVES.get(name)
    if (scope === undefined) {
      issues.error(l, `unknown directive "${d.name}"`, value)
      continue
    }
    // Indented lines belong to the open virtual section; so do virtual-only
    // directives written flush left (the thesis's layout).
    const inVirtual =
      current !== undefined && (l.indent > 0 || scope === 'virtual')
    if (inVirtual && current) {
      if (scope === 'global') {
        issues.error(
          l,
          `"${name}" is a global directive; write it before the first virtual=`,
          value,
        )
      } else if (name === 'real' || name === 'real6') {
        current.realLines++
        current.reals.push(
          ...parseReal(l, value, current.hp.port, issues, name === 'real6'),
        )
      } else {
        setOnce(current.set, name, { value, at: l }, issues)
      }
      continue
    }
    if (scope === 'virtual') {
      issues.error(l, `"${name}" must follow a virtual= line`, value)
    } else if (name === 'trafficmanager') {
      const hp = parseHostPort(unquote(value))
      if (!hp || hp.port === 0)
        issues.error(l, 'trafficmanager must be host:port', value)
      else trafficmanagers.push(hp)
    } else {
      setOnce(globals, name, { value, at: l }, issues)
    }
  }

  const g = resolveGlobals(globals, issues)
  const shared = resolveShared(globals, 0, issues)
  const vs: VirtualService[] = []
  for (const v of virtuals) {
    const r = resolveVirtual(v, globals, shared, issues)
    if (r && !v.rejected) vs.push(r)
  }
  const names = new Set<string>()
  for (const v of vs) {
    if (names.has(v.name))
      issues.error({ file, line: v.line }, 'duplicate virtual service', v.name)
    names.add(v.name)
  }
  if (g.hasmode && trafficmanagers.length === 0 && !g.trafficclientcontrol) {
    issues.error(
      { file, line: globals.get('hasmode')?.at.line ?? 0 },
      'hasmode=yes needs at least one trafficmanager= or trafficclientcontrol=',
    )
  }
  if (g.hasmode && !g.nodeaddress && vs[0]?.reals[0] === undefined) {
    issues.error(
      { file, line: globals.get('hasmode')?.at.line ?? 0 },
      'hasmode=yes needs nodeaddress= or a real server',
    )
  }
  // Section checks run after the walk; the report is in line order.
  const errors = byLine(issues.errors)
  const warnings = byLine(issues.warnings)
  if (errors.length) return { errors, warnings }
  const config: LdConfig = deepFreeze({
    file,
    ...g,
    trafficmanagers,
    virtuals: vs,
  })
  return { config, errors: [], warnings }
}

function byLine(list: readonly ConfigIssue[]): ConfigIssue[] {
  return list
    .map((x, i) => [x, i] as const)
    .sort((a, b) => a[0].line - b[0].line || a[1] - b[1])
    .map(([x]) => x)
}

function setOnce(
  map: Map<string, Raw>,
  name: string,
  raw: Raw,
  issues: IssueList,
): void {
  const prev = map.get(name)
  if (prev) {
    issues.error(
      raw.at,
      `"${name}" given twice (first at line ${prev.at.line})`,
      raw.value,
    )
    return
  }
  map.set(name, raw)
}

function unquote(v: string): string {
  const m = /^"((?:[^"\\]|\\.)*)"$/.exec(v.trim())
  return m ? (m[1] as string).replace(/\\(.)/g, '$1') : v.trim()
}

/**
 * `ip:port`, `[v6]:port`, `host:port` (`virtual6`: `[v6]:port` only);
 * firewall marks are refused. Always returns the section: a refused one
 * is marked so that its lines are checked but yield nothing.
 */
function startVirtual(
  l: SourceLine,
  name: string,
  value: string,
  issues: IssueList,
): VirtualDraft {
  const v = unquote(value)
  const draft = (hp: HostPort | undefined): VirtualDraft =>
    // A refused header's port stands in (or 1) so its lines parse alike.
    ({
      at: l,
      hp: hp ?? { host: '', port: 1 },
      rejected: hp === undefined,
      reals: [],
      realLines: 0,
      set: new Map(),
    })
  if (/^\d+$/.test(v)) {
    issues.error(l, 'firewall-mark virtual services are not supported', v)
    return draft(undefined)
  }
  const hp = parseHostPort(v)
  if (!hp || hp.port === 0) {
    issues.error(
      l,
      name === 'virtual6'
        ? 'virtual6 must be [ipv6]:port'
        : 'virtual must be ip:port or [ipv6]:port',
      v,
    )
    return draft(undefined)
  }
  if (name === 'virtual6' && isIP(hp.host) !== 6) {
    issues.error(l, 'virtual6 must be [ipv6]:port', v)
    return { ...draft(undefined), hp }
  }
  return draft(hp)
}

/** ldirectord.cf times: seconds, or with a unit (500ms); 24 h at most. */
const SECONDS: ValueType<number> = {
  ...kitDuration(1, 86_400_000, 's'),
  expect: 'a duration in seconds (> 0, e.g. 5 or 500ms)',
}
const YES_NO: ValueType<boolean> = { ...kitBool, expect: 'yes or no' }

/**
 * A collected `name = value` read as `type` (daemon-kit value types);
 * ldirectord's wording: `expected <range>`, at the value's line.
 */
function read<T>(
  raw: Raw | undefined,
  type: ValueType<T>,
  issues: IssueList,
): T | undefined {
  if (!raw) return undefined
  const v = type.parse(unquote(raw.value))
  if (v === undefined)
    issues.error(raw.at, `expected ${type.expect}`, raw.value)
  return v
}

const duration = (raw: Raw | undefined, issues: IssueList) =>
  read(raw, SECONDS, issues)
const bool = (raw: Raw | undefined, issues: IssueList) =>
  read(raw, YES_NO, issues)

function controlAddress(
  raw: Raw | undefined,
  issues: IssueList,
): string | undefined {
  if (!raw) return undefined
  const v = unquote(raw.value)
  if (v.startsWith('/') || (parseHostPort(v) !== undefined && v.includes(':')))
    return v
  issues.error(
    raw.at,
    'expected an absolute socket path or host:port',
    raw.value,
  )
  return undefined
}

function resolveGlobals(g: Map<string, Raw>, issues: IssueList) {
  const hasmode = bool(g.get('hasmode'), issues) ?? DEFAULTS.hasmode
  const autoreload = bool(g.get('autoreload'), issues) ?? DEFAULTS.autoreload
  bool(g.get('fork'), issues)
  bool(g.get('supervised'), issues)
  const out: {
    autoreload: boolean
    hasmode: boolean
    restartinterval: number
    logfile?: string
    maintenancedir?: string
    trafficmanagercontrol?: string
    trafficclientcontrol?: string
    reportkey?: string
    reportkeyfile?: string
    nodeaddress?: string
  } = {
    autoreload,
    hasmode,
    restartinterval:
      duration(g.get('restartinterval'), issues) ?? DEFAULTS.restartinterval,
  }
  const logfile = g.get('logfile')
  if (logfile) out.logfile = unquote(logfile.value)
  const md = g.get('maintenancedir')
  if (md) {
    const v = unquote(md.value)
    if (!v.startsWith('/'))
      issues.error(md.at, 'maintenancedir must be an absolute path', md.value)
    else out.maintenancedir = v
  }
  const tmc = controlAddress(g.get('trafficmanagercontrol'), issues)
  if (tmc) out.trafficmanagercontrol = tmc
  const tcc = controlAddress(g.get('trafficclientcontrol'), issues)
  if (tcc) out.trafficclientcontrol = tcc
  const key = g.get('reportkey')
  const keyfile = g.get('reportkeyfile')
  if (key && keyfile)
    issues.error(
      keyfile.at,
      'give reportkey or reportkeyfile, not both',
      keyfile.value,
    )
  if (key) {
    const k = unquote(key.value)
    // The same minimum as a key file (daemon-kit's one rule for keys).
    if (Buffer.byteLength(k, 'utf8') < KEY_MIN_BYTES) {
      issues.error(
        key.at,
        `reportkey must be at least ${KEY_MIN_BYTES} bytes`,
        '***',
      )
    } else out.reportkey = k
  }
  if (keyfile) {
    const v = unquote(keyfile.value)
    if (!v.startsWith('/'))
      issues.error(
        keyfile.at,
        'reportkeyfile must be an absolute path',
        keyfile.value,
      )
    else out.reportkeyfile = v
  }
  const node = g.get('nodeaddress')
  if (node) {
    const v = unquote(node.value)
    if (isIP(v) === 0)
      issues.error(node.at, 'nodeaddress must be an IP address', node.value)
    else out.nodeaddress = v
  }
  return out
}

interface Shared {
  checktimeout?: number
  negotiatetimeout?: number
  checkinterval?: number
  failurecount?: number
  quiescent?: boolean
  /** `fallback` and `fallback6` (v6 address only), kept apart globally. */
  fallback?: Fallback
  fallback6?: Fallback
  checkcount?: number
  restartcommand?: string
}

interface Fallback {
  readonly hp: HostPort
  /** The port as written on the fallback line (undefined: none given). */
  readonly port?: number
}

/** `fallback[6] = ip[:port] [gate|masq|ipip]`; globally (vport 0) the port may be left out. */
function fallback(
  raw: Raw | undefined,
  vport: number,
  v6: boolean,
  issues: IssueList,
): Fallback | undefined {
  if (!raw) return undefined
  const name = v6 ? 'fallback6' : 'fallback'
  const [addr = '', fwd] = splitWords(raw.value)
  const hp = parseHostPort(addr, vport)
  if (!hp || (hp.port === 0 && vport !== 0)) {
    issues.error(
      raw.at,
      `${name} must be ${v6 ? '[ipv6]' : 'ip'}[:port] [gate|masq|ipip]`,
      raw.value,
    )
  } else if (v6 && isIP(hp.host) !== 6) {
    issues.error(
      raw.at,
      'fallback6 must be an IPv6 address, [ipv6][:port]',
      raw.value,
    )
  } else if (
    fwd !== undefined &&
    !['gate', 'masq', 'ipip'].includes(fwd.toLowerCase())
  ) {
    issues.error(
      raw.at,
      `${name} forwarding must be gate, masq or ipip`,
      raw.value,
    )
  } else {
    const explicit = parseHostPort(addr)
    return explicit ? { hp, port: explicit.port } : { hp }
  }
  return undefined
}

/** Directives allowed globally and per virtual, validated once where written. */
function resolveShared(
  set: Map<string, Raw>,
  vport: number,
  issues: IssueList,
): Shared {
  const out: Shared = {}
  const ct = duration(
    set.get('checktimeout') ?? set.get('connecttimeout'),
    issues,
  )
  if (ct !== undefined) out.checktimeout = ct
  const nt = duration(set.get('negotiatetimeout'), issues)
  if (nt !== undefined) out.negotiatetimeout = nt
  const ci = duration(set.get('checkinterval'), issues)
  if (ci !== undefined) out.checkinterval = ci
  const fc = set.get('failurecount')
  if (fc) {
    const n = parseIntRange(unquote(fc.value), 1, 1000)
    if (n === undefined)
      issues.error(fc.at, 'failurecount must be 1..1000', fc.value)
    else out.failurecount = n
  }
  const q = bool(set.get('quiescent'), issues)
  if (q !== undefined) out.quiescent = q
  const fb = fallback(set.get('fallback'), vport, false, issues)
  if (fb) out.fallback = fb
  const fb6 = fallback(set.get('fallback6'), vport, true, issues)
  if (fb6) out.fallback6 = fb6
  const cc = set.get('checkcount')
  if (cc) {
    const n = parseIntRange(unquote(cc.value), 1, 100)
    if (n === undefined)
      issues.error(cc.at, 'checkcount must be 1..100', cc.value)
    else out.checkcount = n
  }
  const rc = set.get('restartcommand')
  if (rc) out.restartcommand = unquote(rc.value)
  return out
}

function resolveVirtual(
  v: VirtualDraft,
  globals: Map<string, Raw>,
  shared: Shared,
  issues: IssueList,
): VirtualService | undefined {
  const before = issues.errors.length
  const pick = (name: string): Raw | undefined =>
    v.set.get(name) ?? globals.get(name)
  const s = (name: string): string | undefined => {
    const r = pick(name)
    return r ? unquote(r.value) : undefined
  }
  const own = resolveShared(v.set, v.hp.port, issues)
  const sh = { ...shared, ...own }
  const rf = v.set.get('fallback6') && v.set.get('fallback')
  if (rf)
    issues.error(
      rf.at,
      'give fallback or fallback6 in a virtual, not both',
      rf.value,
    )
  const checktimeout =
    sh.checktimeout ?? sh.negotiatetimeout ?? DEFAULTS.checktimeout
  const negotiatetimeout =
    sh.negotiatetimeout ?? sh.checktimeout ?? DEFAULTS.negotiatetimeout
  const checkinterval = sh.checkinterval ?? DEFAULTS.checkinterval
  const failurecount = sh.failurecount ?? DEFAULTS.failurecount
  const quiescent = sh.quiescent ?? DEFAULTS.quiescent
  // The virtual's own fallback, else the global one of its address family
  // (fallback6 for an IPv6 virtual), else the other; a global fallback
  // without a port takes each virtual's port.
  const g =
    isIP(v.hp.host) === 6
      ? (shared.fallback6 ?? shared.fallback)
      : (shared.fallback ?? shared.fallback6)
  const fb = own.fallback ?? own.fallback6
  const fallback = fb
    ? fb.hp
    : g && g.port === undefined
      ? { host: g.hp.host, port: v.hp.port }
      : g?.hp
  const checkcount = sh.checkcount ?? DEFAULTS.checkcount
  const { persistent, netmask } = persistence(v, issues)

  let checktype: CheckType = DEFAULTS.checktype
  const ct = pick('checktype')
  if (ct) {
    const t = unquote(ct.value).toLowerCase()
    const n = /^\d+$/.test(t) ? parseIntRange(t, 1, 1000) : undefined
    if (n !== undefined) checktype = n
    else if (CHECKTYPES.includes(t)) checktype = t as CheckType
    else
      issues.error(
        ct.at,
        `checktype must be one of ${CHECKTYPES.join(', ')} or a number`,
        ct.value,
      )
  }

  let service: ServiceKind = DEFAULT_SERVICE.get(v.hp.port) ?? 'none'
  const sv = pick('service')
  if (sv) {
    const t = unquote(sv.value).toLowerCase()
    if (t === 'http' || t === 'https' || t === 'none') service = t
    else
      issues.error(
        sv.at,
        'service must be http, https or none (other negotiate protocols are not supported)',
        sv.value,
      )
  }

  let checkport: number | undefined
  const cp = pick('checkport')
  if (cp) {
    checkport = parseIntRange(unquote(cp.value), 1, 65535)
    if (checkport === undefined)
      issues.error(cp.at, 'checkport must be 1..65535', cp.value)
  }

  let httpmethod: HttpMethod = DEFAULTS.httpmethod
  const hm = pick('httpmethod')
  if (hm) {
    const t = unquote(hm.value).toUpperCase()
    if (t === 'GET' || t === 'HEAD') httpmethod = t
    else issues.error(hm.at, 'httpmethod must be GET or HEAD', hm.value)
  }

  const receive = s('receive')
  const rc = pick('receive')
  if (receive !== undefined && rc && !validRegex(receive)) {
    issues.error(rc.at, 'receive is not a valid regular expression', rc.value)
  }

  const scheduler = s('scheduler') ?? DEFAULTS.scheduler
  const sc = pick('scheduler')
  if (sc && !SCHEDULERS.includes(scheduler)) {
    issues.error(
      sc.at,
      `scheduler must be one of ${SCHEDULERS.join(', ')}`,
      sc.value,
    )
  }
  const protocol = (s('protocol') ?? DEFAULTS.protocol).toLowerCase()
  const pr = pick('protocol')
  if (pr && protocol !== 'tcp') {
    issues.error(
      pr.at,
      'only protocol=tcp is supported (udp and fwm need IPVS)',
      pr.value,
    )
  }

  // A refused header was reported already; its lines were checked above.
  if (v.rejected) return undefined
  if (v.realLines === 0)
    issues.error(v.at, 'virtual service has no real= server', v.at.text)
  const seen = new Set<string>()
  for (const r of v.reals) {
    if (seen.has(r.host)) {
      // The traffic-manager names nodes by address: two ports on one
      // address would be one node there.
      issues.error(
        { file: v.at.file, line: r.line },
        'real server address listed twice in this virtual',
        r.host,
      )
    }
    seen.add(r.host)
  }
  if (issues.errors.length !== before) return undefined

  const hp = v.hp
  const name =
    isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`
  const opt = <K extends string, T>(k: K, val: T | undefined) =>
    (val === undefined ? {} : { [k]: val }) as { [P in K]?: T }
  return {
    name,
    host: hp.host,
    port: hp.port,
    line: v.at.line,
    reals: v.reals,
    checktype,
    service,
    request: s('request') ?? '/',
    httpmethod,
    checkcommand: s('checkcommand') ?? DEFAULTS.checkcommand,
    scheduler,
    protocol,
    checktimeout,
    negotiatetimeout,
    checkinterval,
    failurecount,
    quiescent,
    checkcount,
    ...opt('persistent', persistent),
    ...opt('netmask', netmask),
    ...opt('fallback', fallback),
    ...opt('checkport', checkport),
    ...opt('receive', receive),
    ...opt('virtualhost', s('virtualhost')),
    ...opt('restartcommand', sh.restartcommand),
    ...opt('comment', s('comment')),
  }
}

/**
 * `persistent = <time>` and `netmask = <mask>`: a dotted IPv4 mask
 * (contiguous) or a prefix length, /32 or /128 by default as in IPVS.
 */
function persistence(
  v: VirtualDraft,
  issues: IssueList,
): { persistent?: number; netmask?: number } {
  const out: { persistent?: number; netmask?: number } = {}
  const p = v.set.get('persistent')
  const ms = duration(p, issues)
  if (ms !== undefined) out.persistent = ms
  const nm = v.set.get('netmask')
  if (!nm) return out
  const v6 = isIP(v.hp.host) === 6
  const bits = prefixLength(unquote(nm.value), v6)
  if (bits === undefined) {
    issues.error(
      nm.at,
      v6
        ? 'netmask must be a prefix length 1..128'
        : 'netmask must be a dotted IPv4 mask (e.g. 255.255.255.0) or a prefix length 1..32',
      nm.value,
    )
  } else {
    out.netmask = bits
    if (!p)
      issues.warn(nm.at, 'netmask has no effect without persistent', nm.value)
  }
  return out
}

function prefixLength(text: string, v6: boolean): number | undefined {
  const t = text.startsWith('/') ? text.slice(1) : text
  if (/^\d{1,3}$/.test(t)) return parseIntRange(t, 1, v6 ? 128 : 32)
  if (v6 || isIP(t) !== 4) return undefined
  let mask = 0
  for (const o of t.split('.')) mask = mask * 256 + Number(o)
  // Contiguous: the inverted mask plus one is a power of two.
  const inv = 0xffffffff - mask
  if (mask === 0 || (inv & (inv + 1)) !== 0) return undefined
  return 32 - Math.log2(inv + 1)
}

/** Reads and validates a file; throws ConfigError (exit 3) when invalid. */
export async function loadConfig(path: string): Promise<LdConfig> {
  const text = await readConfigFile(path)
  const r = parseConfig(text, path)
  if (!r.config) throw new ConfigError(r.errors)
  return r.config
}

/** The report key, from reportkey or reportkeyfile (first line). */
export async function loadReportKey(
  config: LdConfig,
): Promise<string | undefined> {
  if (config.reportkey !== undefined) return config.reportkey
  if (config.reportkeyfile === undefined) return undefined
  // daemon-kit's key-file rule: 0600, at least 16 bytes of key.
  try {
    return await readKeyFile(config.reportkeyfile, { text: 'first-line' })
  } catch (e) {
    const why =
      e instanceof KeyFileError ? (e.errno ?? e.reason) : (e as Error).message
    throw ldError('LD_ERR_KEYFILE_UNREADABLE', config.reportkeyfile, why)
  }
}
