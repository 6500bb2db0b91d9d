// tcd.conf: the thesis's traffic-client configuration (3.22.5.1) plus what
// a real deployment needs (shared key, node address, formula, procfs,
// agent-check port). One directive per line, `#` comments, names matched
// case-insensitively (the thesis writes `ErrorLog` and `RAM`). parseConfig
// is pure; loadConfig does the I/O (file, key file) and throws one
// ConfigError naming every problem as file:line with the bad value.

import { isIP } from 'node:net'
import { dirname, resolve } from 'node:path'
import {
  ConfigError,
  IssueList,
  KeyFileError,
  deepFreeze,
  parseDuration,
  parseIntRange,
  parseNumberRange,
  readConfigFile,
  readKeyFile as readKitKeyFile,
  sourceLines,
  splitWords,
  type ConfigIssue,
  type Position,
  type ConfigResult,
  type ValueType,
  readValue,
} from '@has/daemon-kit'

export const FORMULAS = ['live', 'thesis'] as const
export type Formula = (typeof FORMULAS)[number]

/** Defaults; names match the directives. */
export const DEFAULTS = Object.freeze({
  port: 7070, // UDP port of the traffic-managers (traffic-manager's default)
  updates: 1000, // ms between two reports
  formula: 'live' as Formula,
  capacity: 'auto' as const, // live: sum of BogoMIPS over all CPUs
  scale: 1, // multiplies the load index (both formulas)
  mem_headroom: 20, // % of MemTotal available below which live load falls
  procfs: '/proc',
  agent_addr: '0.0.0.0',
})

export const UPDATES_MIN_MS = 10
export const UPDATES_MAX_MS = 3_600_000
export const KEY_MIN_LENGTH = 16

export interface Master {
  /** The directive that named it, e.g. `master2`. */
  readonly name: string
  readonly host: string
  readonly port: number
  readonly family: 4 | 6
}

export interface TrafficClientConfig {
  readonly file: string
  /** Ordered by the number in `masterN`. */
  readonly masters: readonly Master[]
  readonly port: number
  readonly updatesMs: number
  readonly errorLog?: string
  /** RAM_x of the thesis formula, MB. */
  readonly ramMB?: number
  /** The shared secret (inline `key`, or the contents of `keyfile`). */
  readonly key?: string
  readonly keyfile?: string
  /** The (first) `node` address. */
  readonly node: string
  /**
   * A dual-stack node's second `node` address, of the other family: a
   * report to a master of that family names it (an IPv6 service whose
   * managers know the node by its IPv6 address).
   */
  readonly altNode?: string
  readonly formula: Formula
  /** Live formula capacity; `auto` = sum of BogoMIPS. */
  readonly capacity: number | 'auto'
  readonly scale: number
  /** Fraction 0..1 of MemTotal; 0 disables the memory factor. */
  readonly memHeadroom: number
  readonly procfs: string
  readonly agent?: { readonly addr: string; readonly port: number }
}

/** What parseConfig produces before the key file is read. */
export interface ParsedConfig extends Omit<TrafficClientConfig, 'key'> {
  readonly key?: string
  /** Where `keyfile` was given, to name it in key-file errors. */
  readonly keyfileAt?: Position
}

/** parseConfig's result: the kit's one shape (config only when no error). */
export type ParseResult = ConfigResult<ParsedConfig>

const SINGLE = [
  'port',
  'updates',
  'errorlog',
  'ram',
  'key',
  'keyfile',
  'node',
  'formula',
  'capacity',
  'scale',
  'mem_headroom',
  'procfs',
  'agent_port',
  'agent_addr',
] as const
type Single = (typeof SINGLE)[number]

/** Pure: text in, config or every problem out. Paths resolve against the file's directory. */
export function parseConfig(text: string, file: string): ParseResult {
  const issues = new IssueList()
  const seen = new Map<string, Position>()
  const masters = new Map<number, { ms: Master[]; at: Position }>()
  let masterLines = 0
  const v: Partial<Record<Single, { value: string; at: Position }>> = {}
  const base = dirname(resolve(file))

  for (const line of sourceLines(text, file)) {
    const words = splitWords(line.text)
    const [name = '', ...rest] = words
    // `key-file` is traffic-manager's spelling; accept both.
    const key =
      name.toLowerCase() === 'key-file' ? 'keyfile' : name.toLowerCase()
    const mm = /^master(\d+)$/.exec(key)
    const known = mm !== null || (SINGLE as readonly string[]).includes(key)
    if (!known) {
      issues.error(line, `unknown directive "${name}"`, line.text)
      continue
    }
    // masterN and node take one address per family: `node 10.0.0.21 2001:db8:1::21`.
    const most = mm !== null || key === 'node' ? 2 : 1
    if (rest.length < 1 || rest.length > most) {
      issues.error(
        line,
        most === 1
          ? `${name} takes exactly one value`
          : `${name} takes one address, or one IPv4 and one IPv6 address`,
        line.text,
      )
      continue
    }
    const value = rest.join(' ')
    const first = seen.get(key)
    if (first) {
      issues.error(
        line,
        `${name} given twice (first at ${first.file}:${first.line})`,
        value,
      )
      continue
    }
    seen.set(key, line)
    if (mm) {
      masterLines++
      const n = parseIntRange(mm[1] as string, 1, 999)
      if (n === undefined) {
        issues.error(line, 'master number must be 1..999', name)
        continue
      }
      const ms = rest.map(r => parseMaster(name, r))
      const bad = rest.find((_, i) => !ms[i])
      if (bad !== undefined) {
        issues.error(
          line,
          `${name} must be an IPv4 or IPv6 address, optionally with :port ([v6]:port)`,
          bad,
        )
        continue
      }
      const ok = ms as Master[]
      if (ok.length === 2 && ok[0]?.family === ok[1]?.family) {
        issues.error(
          line,
          `${name} takes at most one address per family`,
          value,
        )
        continue
      }
      masters.set(n, { ms: ok, at: line })
      continue
    }
    v[key as Single] = { value, at: line }
  }

  /**
   * A collected value read as `type` (daemon-kit value types), or its
   * default; a bad one is "<label> must be <expect>" at its line.
   */
  const read = <T>(
    k: Single,
    label: string,
    type: ValueType<T>,
    dflt: T,
  ): T => {
    const e = v[k]
    if (!e) return dflt
    return readValue(issues, e.at, label, type, e.value) ?? dflt
  }
  const path = (k: Single): string | undefined => {
    const e = v[k]
    if (!e) return undefined
    if (e.value === '') issues.error(e.at, `${k} needs a path`, e.value)
    return resolve(base, e.value)
  }

  const port = read(
    'port',
    'port',
    { parse: s => parseIntRange(s, 1, 65535), expect: '1..65535' },
    DEFAULTS.port,
  )
  const updatesMs = read(
    'updates',
    'updates',
    {
      parse: s => {
        const ms = parseDuration(s, 'ms')
        return ms !== undefined && ms >= UPDATES_MIN_MS && ms <= UPDATES_MAX_MS
          ? ms
          : undefined
      },
      expect: `${UPDATES_MIN_MS}..${UPDATES_MAX_MS} ms (bare number = ms, or 2s)`,
    },
    DEFAULTS.updates,
  )
  const ramMB = read(
    'ram',
    'RAM',
    {
      parse: s => parseIntRange(s, 1, 1 << 24),
      expect: 'a whole number of MB, 1..16777216',
    },
    undefined,
  )
  const formula = read(
    'formula',
    'formula',
    {
      parse: s =>
        (FORMULAS as readonly string[]).includes(s)
          ? (s as Formula)
          : undefined,
      expect: 'live or thesis',
    },
    DEFAULTS.formula,
  )
  const capacity = read<number | 'auto'>(
    'capacity',
    'capacity',
    {
      parse: s => (s === 'auto' ? 'auto' : positive(s)),
      expect: 'auto or a positive number',
    },
    DEFAULTS.capacity,
  )
  const scale = read(
    'scale',
    'scale',
    { parse: s => positive(s, 1e6), expect: 'a number > 0 and <= 1000000' },
    DEFAULTS.scale,
  )
  const headroom = read(
    'mem_headroom',
    'mem_headroom',
    {
      parse: s => parseNumberRange(s.replace(/%$/, ''), 0, 100),
      expect: 'a percentage 0..100',
    },
    DEFAULTS.mem_headroom,
  )
  const agentPort = read(
    'agent_port',
    'agent_port',
    { parse: s => parseIntRange(s, 0, 65535), expect: '0..65535' },
    undefined,
  )
  const agentAddr = read(
    'agent_addr',
    'agent_addr',
    { parse: s => (isIP(s) ? s : undefined), expect: 'an IP address' },
    DEFAULTS.agent_addr,
  )
  if (v.agent_addr && agentPort === undefined) {
    issues.warn(
      v.agent_addr.at,
      'agent_addr without agent_port: no agent-check responder',
      v.agent_addr.value,
    )
  }

  const nodeE = v.node
  if (!nodeE)
    issues.error(
      { file, line: 0 },
      'node <address> is required (the address the managers know this node by)',
    )
  const nodes = nodeE ? nodeE.value.split(' ') : []
  const badNode = nodes.find(a => isIP(a) === 0)
  if (nodeE && badNode !== undefined)
    issues.error(nodeE.at, 'node must be an IPv4 or IPv6 address', badNode)
  else if (nodeE && nodes.length === 2 && isIP(nodes[0]!) === isIP(nodes[1]!))
    issues.error(
      nodeE.at,
      'node takes at most one address per family',
      nodeE.value,
    )

  if (masterLines === 0)
    issues.error(
      { file, line: 0 },
      'at least one masterN <address> is required',
    )
  const byAddr = new Map<string, Position>()
  for (const { ms, at } of masters.values())
    for (const m of ms) {
      const k = `${m.host}|${m.port || port}`
      const prev = byAddr.get(k)
      if (prev)
        issues.warn(
          at,
          `same master as line ${prev.line}; it gets every report twice`,
          m.host,
        )
      else byAddr.set(k, at)
    }

  if (formula === 'thesis' && ramMB === undefined) {
    issues.error(
      v.formula?.at ?? { file, line: 0 },
      "formula thesis needs RAM <MB> (RAM_x, the smallest node's RAM)",
      'thesis',
    )
  }
  if (v.key && v.keyfile)
    issues.error(v.keyfile.at, 'give key or keyfile, not both', v.keyfile.value)
  if (v.key && v.key.value.length < KEY_MIN_LENGTH) {
    issues.error(
      v.key.at,
      `key must be at least ${KEY_MIN_LENGTH} characters`,
      '*'.repeat(v.key.value.length),
    )
  }

  const errorLog = path('errorlog')
  const keyfile = path('keyfile')
  const procfs = path('procfs') ?? DEFAULTS.procfs
  if (!issues.ok) return { errors: issues.errors, warnings: issues.warnings }

  const ordered = [...masters.entries()].sort((a, b) => a[0] - b[0])
  const config: ParsedConfig = {
    file,
    masters: ordered.flatMap(([, { ms }]) =>
      ms.map(m => ({ ...m, port: m.port || port })),
    ),
    port,
    updatesMs,
    node: nodes[0] as string,
    ...(nodes[1] !== undefined ? { altNode: nodes[1] } : {}),
    formula,
    capacity,
    scale,
    memHeadroom: headroom / 100,
    procfs,
    ...(errorLog ? { errorLog } : {}),
    ...(ramMB !== undefined ? { ramMB } : {}),
    ...(v.key ? { key: v.key.value } : {}),
    ...(keyfile
      ? { keyfile, keyfileAt: (v.keyfile as { at: Position }).at }
      : {}),
    ...(agentPort !== undefined
      ? { agent: { addr: agentAddr, port: agentPort } }
      : {}),
  }
  return { config, errors: [], warnings: issues.warnings }
}

function positive(
  s: string,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const n = parseNumberRange(s, 0, max)
  return n !== undefined && n > 0 ? n : undefined
}

/** `10.0.0.1`, `10.0.0.1:7000`, `fd00::1`, `[fd00::1]:7000`; port 0 = use `port`. */
/** The node address a report to `m` names: altNode when only it is of m's family. */
export function nodeFor(
  config: Pick<TrafficClientConfig, 'node' | 'altNode'>,
  m: Pick<Master, 'family'>,
): string {
  const { node, altNode } = config
  return altNode !== undefined &&
    isIP(node) !== m.family &&
    isIP(altNode) === m.family
    ? altNode
    : node
}

export function parseMaster(name: string, text: string): Master | undefined {
  const fam = isIP(text)
  if (fam === 4 || fam === 6) return { name, host: text, port: 0, family: fam }
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text)
  const m = v6 ?? /^([0-9.]+):(\d+)$/.exec(text)
  if (!m) return undefined
  const host = m[1] as string
  const f = isIP(host)
  if (v6 && f !== 6) return undefined
  const port = parseIntRange(m[2] as string, 1, 65535)
  if ((f !== 4 && f !== 6) || port === undefined) return undefined
  return { name, host, port, family: f }
}

export interface LoadOptions {
  /** --procfs: overrides the file's `procfs`. */
  readonly procfs?: string
  /** Called with each warning of a valid file. */
  readonly warn?: (issue: ConfigIssue) => void
}

/** Reads, validates, reads the key file; throws ConfigError (exit 3). */
export async function loadConfig(
  file: string,
  opts: LoadOptions = {},
): Promise<TrafficClientConfig> {
  const text = await readConfigFile(file)
  const r = parseConfig(text, file)
  if (!r.config) throw new ConfigError(r.errors)
  for (const w of r.warnings) opts.warn?.(w)
  const { keyfileAt, ...config } = r.config
  let key = config.key
  if (config.keyfile && keyfileAt)
    key = await readKeyFile(config.keyfile, keyfileAt)
  return deepFreeze({
    ...config,
    ...(key !== undefined ? { key } : {}),
    ...(opts.procfs ? { procfs: resolve(opts.procfs) } : {}),
  })
}

/** daemon-kit's key-file rule: 0600, at least 16 bytes, content trimmed. */
async function readKeyFile(path: string, at: Position): Promise<string> {
  const fail = (message: string, value = path): never => {
    throw new ConfigError([{ file: at.file, line: at.line, message, value }])
  }
  let key = ''
  try {
    key = await readKitKeyFile(path, { text: 'trim' })
  } catch (e) {
    fail(`keyfile ${e instanceof KeyFileError ? e.reason : String(e)}`)
  }
  if (/\s/.test(key)) fail('keyfile must hold one line without white space')
  return key
}
