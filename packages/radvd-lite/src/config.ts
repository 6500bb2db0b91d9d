// radvd.conf, the common subset: interface blocks with their options and
// prefix / route / RDNSS / DNSSL blocks. Defaults and range checks follow
// radvd (defaults.h) and RFC 4861/4191/8106/8319. The grammar is free-form
// (braces and semicolons, `#` comments), so this file has its own small
// tokenizer that keeps line numbers for file:line errors.

import { isIP } from 'node:net'
import {
  IssueList,
  SOURCE_MAX_LINE,
  deepFreeze,
  readConfigFile,
  type ConfigIssue,
  type Position,
  type ConfigResult,
  type ValueType,
  bool,
  readValue,
} from '@has/daemon-kit'

/** 0xffffffff: the wire value of "infinity" for lifetimes. */
export const INFINITY = 0xffffffff

export type Preference = 'low' | 'medium' | 'high'

export interface PrefixConfig {
  readonly line: number
  /** Canonical text form of the prefix, host bits cleared. */
  readonly prefix: string
  readonly length: number
  readonly AdvOnLink: boolean
  readonly AdvAutonomous: boolean
  readonly AdvRouterAddr: boolean
  /** seconds; INFINITY for "infinity" */
  readonly AdvValidLifetime: number
  readonly AdvPreferredLifetime: number
  readonly DeprecatePrefix: boolean
}

export interface RouteConfig {
  readonly line: number
  readonly prefix: string
  readonly length: number
  readonly AdvRoutePreference: Preference
  /** seconds */
  readonly AdvRouteLifetime: number
  readonly RemoveRoute: boolean
}

export interface RdnssConfig {
  readonly line: number
  readonly servers: readonly string[]
  /** seconds */
  readonly AdvRDNSSLifetime: number
  readonly FlushRDNSS: boolean
}

export interface DnsslConfig {
  readonly line: number
  readonly domains: readonly string[]
  /** seconds */
  readonly AdvDNSSLLifetime: number
  readonly FlushDNSSL: boolean
}

export interface InterfaceConfig {
  readonly name: string
  readonly line: number
  readonly AdvSendAdvert: boolean
  /** seconds (may be fractional) */
  readonly MinRtrAdvInterval: number
  readonly MaxRtrAdvInterval: number
  /** seconds; 0: not a default router */
  readonly AdvDefaultLifetime: number
  readonly AdvDefaultPreference: Preference
  readonly AdvManagedFlag: boolean
  readonly AdvOtherConfigFlag: boolean
  /** bytes; 0: no MTU option */
  readonly AdvLinkMTU: number
  /** 0: unspecified */
  readonly AdvCurHopLimit: number
  /** milliseconds; 0: unspecified */
  readonly AdvReachableTime: number
  readonly AdvRetransTimer: number
  readonly AdvSourceLLAddress: boolean
  readonly IgnoreIfMissing: boolean
  readonly AdvRASolicitedUnicast: boolean
  readonly RemoveAdvOnExit: boolean
  readonly prefixes: readonly PrefixConfig[]
  readonly routes: readonly RouteConfig[]
  readonly rdnss: readonly RdnssConfig[]
  readonly dnssl: readonly DnsslConfig[]
}

export interface RadvdConfig {
  readonly file: string
  readonly interfaces: readonly InterfaceConfig[]
}

/** radvd's defaults (defaults.h); those that depend on Max are functions. */
export const DEFAULTS = deepFreeze({
  AdvSendAdvert: false,
  MaxRtrAdvInterval: 600, // s
  MinRtrAdvInterval: (max: number): number => Math.max(3, 0.33 * max), // s
  // radvd casts these to integers: truncation, not rounding (25.5 -> 76).
  AdvDefaultLifetime: (max: number): number =>
    Math.min(65535, Math.max(1, Math.trunc(3 * max))), // s
  AdvDefaultPreference: 'medium' as Preference,
  AdvManagedFlag: false,
  AdvOtherConfigFlag: false,
  AdvLinkMTU: 0, // bytes, 0 = omit the option
  AdvCurHopLimit: 64,
  AdvReachableTime: 0, // ms
  AdvRetransTimer: 0, // ms
  AdvSourceLLAddress: true,
  IgnoreIfMissing: true,
  AdvRASolicitedUnicast: true,
  RemoveAdvOnExit: true,
  AdvOnLink: true,
  AdvAutonomous: true,
  AdvRouterAddr: false,
  AdvValidLifetime: 86400, // s
  AdvPreferredLifetime: 14400, // s
  DeprecatePrefix: false,
  AdvRoutePreference: 'medium' as Preference,
  AdvRouteLifetime: (max: number): number =>
    Math.min(INFINITY, Math.trunc(3 * max)), // s
  RemoveRoute: true,
  // radvd 2.19 sends MaxRtrAdvInterval here (measured against the real
  // daemon in test/integration/radvd-compare.ts), not 3 * Max.
  AdvRDNSSLifetime: (max: number): number => Math.trunc(max), // s
  FlushRDNSS: true,
  AdvDNSSLLifetime: (max: number): number => Math.trunc(max), // s
  FlushDNSSL: true,
})

/** Limits (RFC 4861 6.2.1 as amended by RFC 8319; radvd's checks). */
export const LIMITS = deepFreeze({
  MaxRtrAdvInterval: [4, 65535],
  MinRtrAdvIntervalFloor: 3,
  AdvDefaultLifetime: [0, 65535],
  AdvLinkMTU: [1280, 131072],
  AdvCurHopLimit: [0, 255],
  AdvReachableTime: [0, 3_600_000],
  AdvRetransTimer: [0, INFINITY],
})

// ---- tokenizer -------------------------------------------------------

interface Token {
  readonly text: string
  readonly line: number
}

/**
 * Linear in the input: the comment is cut at the first `#` by indexOf (the
 * regex /#.*$/ it replaces was quadratic on long `#` runs). A line longer
 * than SOURCE_MAX_LINE is reported (when `refuse` is given) and skipped.
 */
export function tokenize(
  text: string,
  refuse?: (line: number) => void,
): Token[] {
  const out: Token[] = []
  const lines = text.split('\n')
  lines.forEach((raw, i) => {
    if (raw.length > SOURCE_MAX_LINE) {
      refuse?.(i + 1)
      return
    }
    const hash = raw.indexOf('#')
    const body = hash < 0 ? raw : raw.slice(0, hash)
    for (const m of body.matchAll(/[{};]|[^\s{};]+/g)) {
      out.push({ text: m[0], line: i + 1 })
    }
  })
  return out
}

// ---- parser -----------------------------------------------------------

type Values = Map<string, { value: string; line: number }>

interface RawBlock {
  readonly kind: string
  readonly args: Token[]
  readonly line: number
  readonly options: Values
  /**
   * MaxRtrAdvInterval as written before this block (undefined: none yet):
   * radvd derives a block's default lifetimes from the value in force when
   * it parses the block, not from a later one.
   */
  readonly maxBefore?: string
}

interface RawInterface {
  readonly name: string
  readonly line: number
  readonly options: Values
  readonly blocks: RawBlock[]
}

const IFACE_OPTIONS = [
  'AdvSendAdvert',
  'MinRtrAdvInterval',
  'MaxRtrAdvInterval',
  'AdvDefaultLifetime',
  'AdvDefaultPreference',
  'AdvManagedFlag',
  'AdvOtherConfigFlag',
  'AdvLinkMTU',
  'AdvCurHopLimit',
  'AdvReachableTime',
  'AdvRetransTimer',
  'AdvSourceLLAddress',
  'IgnoreIfMissing',
  'AdvRASolicitedUnicast',
  'RemoveAdvOnExit',
]
const BLOCK_OPTIONS: Record<string, string[]> = {
  prefix: [
    'AdvOnLink',
    'AdvAutonomous',
    'AdvRouterAddr',
    'AdvValidLifetime',
    'AdvPreferredLifetime',
    'DeprecatePrefix',
  ],
  route: ['AdvRoutePreference', 'AdvRouteLifetime', 'RemoveRoute'],
  RDNSS: ['AdvRDNSSLifetime', 'FlushRDNSS'],
  DNSSL: ['AdvDNSSLLifetime', 'FlushDNSSL'],
}

/** Canonical spelling of a keyword, matched case-insensitively. */
function canonical(word: string, names: readonly string[]): string | undefined {
  const w = word.toLowerCase()
  return names.find(n => n.toLowerCase() === w)
}

class Cursor {
  i = 0
  constructor(
    readonly toks: Token[],
    readonly file: string,
  ) {}
  peek(): Token | undefined {
    return this.toks[this.i]
  }
  next(): Token | undefined {
    return this.toks[this.i++]
  }
  at(t?: Token): Position {
    const line = t?.line ?? this.toks[this.toks.length - 1]?.line ?? 0
    return { file: this.file, line }
  }
}

class Stop extends Error {}

function expect(
  c: Cursor,
  issues: IssueList,
  want: string,
  what: string,
): Token {
  const t = c.next()
  if (t?.text !== want) {
    issues.error(
      c.at(t),
      `expected "${want}" ${what}`,
      t?.text ?? 'end of file',
    )
    throw new Stop()
  }
  return t
}

/** Reads `Name value ;` pairs until `}`; unknown names are errors. */
function readOptions(
  c: Cursor,
  issues: IssueList,
  allowed: readonly string[],
  where: string,
  onBlock?: (kw: Token, values: Values) => void,
): Values {
  const values: Values = new Map()
  for (;;) {
    const t = c.next()
    if (!t) {
      issues.error(c.at(), `missing "}" closing ${where}`)
      throw new Stop()
    }
    if (t.text === '}') return values
    if (t.text === ';') continue
    if (onBlock && canonical(t.text, Object.keys(BLOCK_OPTIONS))) {
      onBlock(t, values)
      continue
    }
    const name = canonical(t.text, allowed)
    const words: Token[] = []
    while (c.peek() && !['{', '}', ';'].includes(c.peek()!.text))
      words.push(c.next()!)
    const end = c.next()
    if (!name) {
      issues.error(c.at(t), `unknown directive in ${where}`, t.text)
      if (end?.text === '{') throw new Stop()
      if (end?.text === '}') return values
      continue
    }
    if (end?.text !== ';') {
      issues.error(
        c.at(t),
        `expected "${name} <value>;"`,
        end?.text ?? 'end of file',
      )
      throw new Stop()
    }
    if (words.length !== 1) {
      issues.error(
        c.at(t),
        `${name} takes exactly one value`,
        words.map(w => w.text).join(' '),
      )
      continue
    }
    if (values.has(name))
      issues.warn(c.at(t), `${name} given twice; the last one wins`)
    values.set(name, { value: words[0]!.text, line: t.line })
  }
}

function readInterface(c: Cursor, issues: IssueList, kw: Token): RawInterface {
  const nameTok = c.next()
  if (!nameTok || ['{', '}', ';'].includes(nameTok.text)) {
    issues.error(
      c.at(kw),
      'interface needs a name',
      nameTok?.text ?? 'end of file',
    )
    throw new Stop()
  }
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(nameTok.text)) {
    issues.error(
      c.at(nameTok),
      'invalid interface name (1..15 characters)',
      nameTok.text,
    )
  }
  expect(c, issues, '{', `after "interface ${nameTok.text}"`)
  const blocks: RawBlock[] = []
  const options = readOptions(
    c,
    issues,
    IFACE_OPTIONS,
    `interface ${nameTok.text}`,
    (bk, sofar) => {
      const maxBefore = sofar.get('MaxRtrAdvInterval')?.value
      const kind = canonical(bk.text, Object.keys(BLOCK_OPTIONS))!
      const args: Token[] = []
      while (
        c.peek() &&
        c.peek()!.text !== '{' &&
        c.peek()!.text !== ';' &&
        c.peek()!.text !== '}'
      ) {
        args.push(c.next()!)
      }
      expect(
        c,
        issues,
        '{',
        `after "${kind} ${args.map(a => a.text).join(' ')}"`,
      )
      const opts = readOptions(c, issues, BLOCK_OPTIONS[kind]!, `${kind} block`)
      if (c.peek()?.text === ';') c.next()
      blocks.push({
        kind,
        args,
        line: bk.line,
        options: opts,
        ...(maxBefore !== undefined ? { maxBefore } : {}),
      })
    },
  )
  if (c.peek()?.text === ';') c.next()
  else
    issues.error(
      c.at(c.peek()),
      `expected ";" after the closing "}" of interface ${nameTok.text}`,
      c.peek()?.text ?? 'end of file',
    )
  return { name: nameTok.text, line: kw.line, options, blocks }
}

// ---- value checks -------------------------------------------------------

/**
 * radvd.conf.5's numbers: an integer (or a decimal where radvd takes one,
 * MaxRtrAdvInterval) in [min, max], optionally `infinity`; the wording of
 * the range is radvd's.
 */
function radvdNumber(
  min: number,
  max: number,
  opts: { fraction?: boolean; infinity?: boolean } = {},
): ValueType<number> {
  const re = opts.fraction ? /^\d+(\.\d+)?$/ : /^\d+$/
  return {
    parse(raw) {
      if (opts.infinity && raw.toLowerCase() === 'infinity') return INFINITY
      const n = Number(raw)
      return re.test(raw) && n >= min && n <= max ? n : undefined
    },
    expect: `${opts.fraction ? 'a number' : 'an integer'} in ${min}..${max}${opts.infinity ? ' or infinity' : ''}`,
  }
}

/** low, medium or high, in any case (radvd reads them so). */
const preference: ValueType<Preference> = {
  parse(raw) {
    const p = raw.toLowerCase()
    return p === 'low' || p === 'medium' || p === 'high' ? p : undefined
  },
  expect: 'low, medium or high',
}

/**
 * The options of one block (interface, prefix, route, RDNSS, DNSSL) read
 * through the kit's value types: a bad value is reported at its line and
 * the default stands.
 */
class BlockValues {
  constructor(
    readonly file: string,
    readonly issues: IssueList,
    readonly values: Values,
  ) {}
  pos(name: string): Position {
    return { file: this.file, line: this.values.get(name)?.line ?? 0 }
  }
  has(name: string): boolean {
    return this.values.has(name)
  }
  get<T>(name: string, type: ValueType<T>, dflt: T): T {
    const v = this.values.get(name)
    if (!v) return dflt
    return readValue(this.issues, this.pos(name), name, type, v.value) ?? dflt
  }
}

/** Parses `addr/len`; clears host bits (with a warning) like a netmask would. */
export function parsePrefix(
  text: string,
): { prefix: string; length: number; hostBits: boolean } | undefined {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text)
  if (!m || isIP(m[1]!) !== 6) return undefined
  const length = Number(m[2])
  if (length > 128) return undefined
  const bytes = ipv6Bytes(m[1]!)
  let hostBits = false
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8))
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff
    if ((bytes[i]! & ~mask & 0xff) !== 0) hostBits = true
    bytes[i] = bytes[i]! & mask
  }
  return { prefix: formatIpv6(bytes), length, hostBits }
}

/** 16 bytes of an IPv6 address (text assumed valid, e.g. via isIP). */
export function ipv6Bytes(addr: string): Buffer {
  let text = addr.replace(/%.*$/, '')
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const p = v4[1]!.split('.').map(Number)
    text =
      text.slice(0, -v4[1]!.length) +
      `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups =
    tail === undefined
      ? h
      : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2))
  return out
}

/** RFC 5952 text form of 16 bytes. */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = []
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!)
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = g.map(x => x.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

function validDomain(d: string): boolean {
  const name = d.replace(/\.$/, '')
  return (
    name.length > 0 &&
    name.length <= 253 &&
    name
      .split('.')
      .every(l => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l))
  )
}

/** The MaxRtrAdvInterval in force when the block was parsed (see RawBlock). */
function blockMax(b: RawBlock, last: number): number {
  if (b.maxBefore === undefined) return DEFAULTS.MaxRtrAdvInterval
  const n = Number(b.maxBefore)
  // An invalid earlier value was reported if it was the last; else take the last.
  return Number.isFinite(n) &&
    n >= LIMITS.MaxRtrAdvInterval[0]! &&
    n <= LIMITS.MaxRtrAdvInterval[1]!
    ? n
    : last
}

function buildInterface(
  raw: RawInterface,
  file: string,
  issues: IssueList,
): InterfaceConfig {
  const c = new BlockValues(file, issues, raw.options)
  const max = c.get(
    'MaxRtrAdvInterval',
    radvdNumber(LIMITS.MaxRtrAdvInterval[0]!, LIMITS.MaxRtrAdvInterval[1]!, {
      fraction: true,
    }),
    DEFAULTS.MaxRtrAdvInterval,
  )
  if (max > 1800) {
    issues.warn(
      c.pos('MaxRtrAdvInterval'),
      'MaxRtrAdvInterval above 1800 s needs RFC 8319 hosts',
      String(max),
    )
  }
  const min = c.get(
    'MinRtrAdvInterval',
    radvdNumber(0, 65535, { fraction: true }),
    DEFAULTS.MinRtrAdvInterval(max),
  )
  if (
    c.has('MinRtrAdvInterval') &&
    (min < LIMITS.MinRtrAdvIntervalFloor || min > 0.75 * max)
  ) {
    issues.error(
      c.pos('MinRtrAdvInterval'),
      `MinRtrAdvInterval must be in ${LIMITS.MinRtrAdvIntervalFloor}..${0.75 * max} (0.75 * MaxRtrAdvInterval)`,
      String(raw.options.get('MinRtrAdvInterval')?.value),
    )
  }
  const lifetime = c.get(
    'AdvDefaultLifetime',
    radvdNumber(0, 65535),
    DEFAULTS.AdvDefaultLifetime(max),
  )
  if (lifetime !== 0 && lifetime < max) {
    issues.error(
      c.pos('AdvDefaultLifetime'),
      `AdvDefaultLifetime must be 0 or in ${Math.ceil(max)}..65535 (at least MaxRtrAdvInterval)`,
      String(lifetime),
    )
  }
  const mtu = c.get(
    'AdvLinkMTU',
    radvdNumber(0, LIMITS.AdvLinkMTU[1]!),
    DEFAULTS.AdvLinkMTU,
  )
  if (mtu !== 0 && mtu < LIMITS.AdvLinkMTU[0]!) {
    issues.error(
      c.pos('AdvLinkMTU'),
      `AdvLinkMTU must be 0 or in ${LIMITS.AdvLinkMTU[0]}..${LIMITS.AdvLinkMTU[1]}`,
      String(mtu),
    )
  }
  const prefixes: PrefixConfig[] = []
  const routes: RouteConfig[] = []
  const rdnss: RdnssConfig[] = []
  const dnssl: DnsslConfig[] = []
  for (const b of raw.blocks) {
    const bc = new BlockValues(file, issues, b.options)
    const at = { file, line: b.line }
    const args = b.args.map(a => a.text)
    const bmax = blockMax(b, max)
    if (b.kind === 'prefix' || b.kind === 'route') {
      const p = args.length === 1 ? parsePrefix(args[0]!) : undefined
      if (!p) {
        issues.error(
          at,
          `${b.kind} needs one IPv6 prefix like 2001:db8:1::/64`,
          args.join(' '),
        )
        continue
      }
      if (p.hostBits)
        issues.warn(
          at,
          `${b.kind} has host bits set; advertising ${p.prefix}/${p.length}`,
          args[0],
        )
      if (b.kind === 'prefix' && p.prefix === '::') {
        // radvd reads ::/64 as "every prefix on the interface"; not here.
        issues.error(
          at,
          'the special prefix ::/N (all interface prefixes) is not supported; list prefixes',
          args[0],
        )
        continue
      }
      if (b.kind === 'prefix') {
        const valid = bc.get(
          'AdvValidLifetime',
          radvdNumber(0, INFINITY, { infinity: true }),
          DEFAULTS.AdvValidLifetime,
        )
        const preferred = bc.get(
          'AdvPreferredLifetime',
          radvdNumber(0, INFINITY, { infinity: true }),
          DEFAULTS.AdvPreferredLifetime,
        )
        if (preferred > valid) {
          issues.error(
            bc.pos('AdvPreferredLifetime'),
            'AdvPreferredLifetime must not exceed AdvValidLifetime',
            String(preferred),
          )
        }
        const auto = bc.get('AdvAutonomous', bool, DEFAULTS.AdvAutonomous)
        if (auto && p.length !== 64)
          issues.warn(
            at,
            'SLAAC (AdvAutonomous) only works with /64 prefixes on Ethernet',
            args[0],
          )
        if (
          prefixes.some(x => x.prefix === p.prefix && x.length === p.length)
        ) {
          issues.error(at, 'prefix listed twice', args[0])
        }
        prefixes.push({
          line: b.line,
          prefix: p.prefix,
          length: p.length,
          AdvOnLink: bc.get('AdvOnLink', bool, DEFAULTS.AdvOnLink),
          AdvAutonomous: auto,
          AdvRouterAddr: bc.get('AdvRouterAddr', bool, DEFAULTS.AdvRouterAddr),
          AdvValidLifetime: valid,
          AdvPreferredLifetime: preferred,
          DeprecatePrefix: bc.get(
            'DeprecatePrefix',
            bool,
            DEFAULTS.DeprecatePrefix,
          ),
        })
      } else {
        routes.push({
          line: b.line,
          prefix: p.prefix,
          length: p.length,
          AdvRoutePreference: bc.get(
            'AdvRoutePreference',
            preference,
            DEFAULTS.AdvRoutePreference,
          ),
          AdvRouteLifetime: bc.get(
            'AdvRouteLifetime',
            radvdNumber(0, INFINITY, { infinity: true }),
            DEFAULTS.AdvRouteLifetime(bmax),
          ),
          RemoveRoute: bc.get('RemoveRoute', bool, DEFAULTS.RemoveRoute),
        })
      }
    } else if (b.kind === 'RDNSS') {
      const bad = args.filter(a => isIP(a) !== 6)
      if (args.length === 0 || bad.length) {
        issues.error(
          at,
          'RDNSS needs one or more IPv6 addresses',
          bad.join(' ') || 'nothing',
        )
        continue
      }
      const lt = bc.get(
        'AdvRDNSSLifetime',
        radvdNumber(0, INFINITY, { infinity: true }),
        DEFAULTS.AdvRDNSSLifetime(bmax),
      )
      // Only a written value is checked: the default is trunc(Max), which
      // radvd itself sends (25 for Max 25.5).
      if (bc.has('AdvRDNSSLifetime') && lt !== 0 && lt < bmax) {
        issues.error(
          bc.pos('AdvRDNSSLifetime'),
          `AdvRDNSSLifetime must be 0 or at least MaxRtrAdvInterval (${bmax})`,
          String(lt),
        )
      } else if (bc.has('AdvRDNSSLifetime') && lt !== 0 && lt <= 2 * bmax) {
        issues.warn(
          bc.pos('AdvRDNSSLifetime'),
          'AdvRDNSSLifetime should exceed 2 * MaxRtrAdvInterval (RFC 8106 5.1)',
          String(lt),
        )
      }
      rdnss.push({
        line: b.line,
        servers: args.map(a => formatIpv6(ipv6Bytes(a))),
        AdvRDNSSLifetime: lt,
        FlushRDNSS: bc.get('FlushRDNSS', bool, DEFAULTS.FlushRDNSS),
      })
    } else {
      const bad = args.filter(a => !validDomain(a))
      if (args.length === 0 || bad.length) {
        issues.error(
          at,
          'DNSSL needs one or more domain names',
          bad.join(' ') || 'nothing',
        )
        continue
      }
      const lt = bc.get(
        'AdvDNSSLLifetime',
        radvdNumber(0, INFINITY, { infinity: true }),
        DEFAULTS.AdvDNSSLLifetime(bmax),
      )
      if (bc.has('AdvDNSSLLifetime') && lt !== 0 && lt < bmax) {
        issues.error(
          bc.pos('AdvDNSSLLifetime'),
          `AdvDNSSLLifetime must be 0 or at least MaxRtrAdvInterval (${bmax})`,
          String(lt),
        )
      }
      dnssl.push({
        line: b.line,
        // Case kept, as radvd sends it (DNS compares names case-blind).
        domains: args.map(a => (a.endsWith('.') ? a.slice(0, -1) : a)),
        AdvDNSSLLifetime: lt,
        FlushDNSSL: bc.get('FlushDNSSL', bool, DEFAULTS.FlushDNSSL),
      })
    }
  }
  return {
    name: raw.name,
    line: raw.line,
    AdvSendAdvert: c.get('AdvSendAdvert', bool, DEFAULTS.AdvSendAdvert),
    MinRtrAdvInterval: min,
    MaxRtrAdvInterval: max,
    AdvDefaultLifetime: lifetime,
    AdvDefaultPreference: c.get(
      'AdvDefaultPreference',
      preference,
      DEFAULTS.AdvDefaultPreference,
    ),
    AdvManagedFlag: c.get('AdvManagedFlag', bool, DEFAULTS.AdvManagedFlag),
    AdvOtherConfigFlag: c.get(
      'AdvOtherConfigFlag',
      bool,
      DEFAULTS.AdvOtherConfigFlag,
    ),
    AdvLinkMTU: mtu,
    AdvCurHopLimit: c.get(
      'AdvCurHopLimit',
      radvdNumber(LIMITS.AdvCurHopLimit[0]!, LIMITS.AdvCurHopLimit[1]!),
      DEFAULTS.AdvCurHopLimit,
    ),
    AdvReachableTime: c.get(
      'AdvReachableTime',
      radvdNumber(LIMITS.AdvReachableTime[0]!, LIMITS.AdvReachableTime[1]!),
      DEFAULTS.AdvReachableTime,
    ),
    AdvRetransTimer: c.get(
      'AdvRetransTimer',
      radvdNumber(LIMITS.AdvRetransTimer[0]!, LIMITS.AdvRetransTimer[1]!),
      DEFAULTS.AdvRetransTimer,
    ),
    AdvSourceLLAddress: c.get(
      'AdvSourceLLAddress',
      bool,
      DEFAULTS.AdvSourceLLAddress,
    ),
    IgnoreIfMissing: c.get('IgnoreIfMissing', bool, DEFAULTS.IgnoreIfMissing),
    AdvRASolicitedUnicast: c.get(
      'AdvRASolicitedUnicast',
      bool,
      DEFAULTS.AdvRASolicitedUnicast,
    ),
    RemoveAdvOnExit: c.get('RemoveAdvOnExit', bool, DEFAULTS.RemoveAdvOnExit),
    prefixes,
    routes,
    rdnss,
    dnssl,
  }
}

/** parseConfig's result: the kit's one shape (config only when no error). */
export type ParseResult = ConfigResult<RadvdConfig>

/** Pure: text in, a frozen config or the list of problems out. */
export function parseConfig(text: string, file = 'radvd.conf'): ParseResult {
  const issues = new IssueList()
  const c = new Cursor(
    tokenize(text, line =>
      issues.error(
        { file, line },
        `line longer than ${SOURCE_MAX_LINE} characters`,
      ),
    ),
    file,
  )
  const raws: RawInterface[] = []
  try {
    while (c.peek()) {
      const t = c.next()!
      if (t.text.toLowerCase() !== 'interface') {
        issues.error(c.at(t), 'expected "interface <name> { ... };"', t.text)
        throw new Stop()
      }
      raws.push(readInterface(c, issues, t))
    }
  } catch (e) {
    if (!(e instanceof Stop)) throw e
  }
  const interfaces: InterfaceConfig[] = []
  for (const raw of raws) {
    if (interfaces.some(i => i.name === raw.name)) {
      issues.error(
        { file, line: raw.line },
        'interface configured twice',
        raw.name,
      )
      continue
    }
    interfaces.push(buildInterface(raw, file, issues))
  }
  if (issues.ok && interfaces.length === 0) {
    issues.error({ file, line: 0 }, 'no interface block: nothing to advertise')
  }
  if (!issues.ok) return { errors: issues.errors, warnings: issues.warnings }
  return {
    config: deepFreeze({ file, interfaces }),
    errors: [],
    warnings: issues.warnings,
  }
}

/** Reads and validates a file; throws ConfigError naming file:line. */
export async function loadConfig(
  path: string,
): Promise<{ config: RadvdConfig; warnings: readonly ConfigIssue[] }> {
  const r = parseConfig(await readConfigFile(path), path)
  if (!r.config) {
    const list = new IssueList()
    list.errors.push(...r.errors)
    list.throwIfAny()
  }
  return { config: r.config!, warnings: r.warnings }
}
