// vip-announcer.conf: one `directive value` per line, `#` comments, the
// same shape as tmd.conf. Every problem names file:line and the bad value;
// a file with any error is refused whole (so a reload is all or nothing).

import {
  IssueList,
  deepFreeze,
  readConfigFile,
  sourceLines,
  splitWords,
  type SourceLine,
  configOrThrow,
  type ConfigResult,
  configResult,
  type ValueType,
  duration,
  int,
  pattern,
  oneArg,
  readValue,
  lookupDirective,
} from '@has/daemon-kit'

export interface AnnouncerConfig {
  readonly file: string
  /** BIRD's control socket (bird -s). */
  readonly birdSocket: string
  /** BIRD static protocols holding the VIP routes; enabled = announced. */
  readonly protocols: readonly string[]
  /** traffic-manager's control socket. */
  readonly trafficManager: string
  /** Services that must be healthy; empty: every service traffic-manager runs. */
  readonly services: readonly string[]
  /** Eligible nodes each service needs. */
  readonly minNodes: number
  readonly checkIntervalMs: number
  readonly checkTimeoutMs: number
  /** Health must hold this long before the routes are announced again. */
  readonly settleMs: number
  /** After withdrawing on stop, how long the data plane keeps serving. */
  readonly drainMs: number
  readonly birdTimeoutMs: number
}

export const DEFAULTS = {
  birdSocket: '/run/bird/bird.ctl',
  trafficManager: '/run/has/traffic-manager.sock',
  minNodes: 1,
  checkIntervalMs: 50,
  checkTimeoutMs: 1000,
  settleMs: 1000,
  drainMs: 5000,
  birdTimeoutMs: 2000,
} as const

/** A BIRD symbol: what `protocol static <name>` accepts unquoted. */
const BIRD_SYMBOL = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
/** `<ipv4>:<port>` or `[<ipv6>]:<port>`, as traffic-manager names services. */
const SERVICE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/

type Durations =
  | 'checkIntervalMs'
  | 'checkTimeoutMs'
  | 'settleMs'
  | 'drainMs'
  | 'birdTimeoutMs'
/** A duration directive in ms within [min, max], in this file's wording. */
const ms = (
  key: Durations,
  min: number,
  max: number,
): { key: Durations; type: ValueType<number> } => ({
  key,
  type: {
    ...duration(min, max, 'ms'),
    expect: `a duration in ${min}ms..${max}ms (bare number = ms)`,
  },
})

const DURATIONS: Readonly<
  Record<string, { key: Durations; type: ValueType<number> }>
> = {
  'check-interval': ms('checkIntervalMs', 5, 10_000),
  'check-timeout': ms('checkTimeoutMs', 5, 10_000),
  settle: ms('settleMs', 0, 600_000),
  drain: ms('drainMs', 0, 600_000),
  'bird-timeout': ms('birdTimeoutMs', 50, 60_000),
}
const SOCKET_PATH = pattern(/^\//, 'an absolute socket path')
const MIN_NODES = { ...int(1, 10_000), expect: 'an integer in 1..10000' }

/** Parses the config text; never throws (the kit's one result shape). */
export function parseConfig(
  text: string,
  file: string,
): ConfigResult<AnnouncerConfig> {
  const issues = new IssueList()
  const lines = sourceLines(text, file, { issues })
  const seen = new Map<string, number>()
  const out = {
    file,
    birdSocket: DEFAULTS.birdSocket as string,
    trafficManager: DEFAULTS.trafficManager as string,
    protocols: [] as string[],
    services: [] as string[],
    minNodes: DEFAULTS.minNodes as number,
    checkIntervalMs: DEFAULTS.checkIntervalMs as number,
    checkTimeoutMs: DEFAULTS.checkTimeoutMs as number,
    settleMs: DEFAULTS.settleMs as number,
    drainMs: DEFAULTS.drainMs as number,
    birdTimeoutMs: DEFAULTS.birdTimeoutMs as number,
  }
  const once = (l: SourceLine, key: string): boolean => {
    const first = seen.get(key)
    if (first !== undefined) {
      issues.error(l, `${key} given twice (first at line ${first})`)
      return false
    }
    seen.set(key, l.line)
    return true
  }
  for (const l of lines) {
    const [key = '', ...args] = splitWords(l.text)
    const value = oneArg(issues, l, key, args)
    if (value === undefined) continue
    // Own keys only: `constructor 5` is an unknown directive.
    const d = lookupDirective(DURATIONS, key)
    if (d) {
      const v = readValue(issues, l, key, d.type, value)
      if (v !== undefined && once(l, key)) out[d.key] = v
      continue
    }
    switch (key) {
      case 'bird-socket':
      case 'traffic-manager':
        if (readValue(issues, l, key, SOCKET_PATH, value) === undefined) break
        if (once(l, key))
          out[key === 'bird-socket' ? 'birdSocket' : 'trafficManager'] = value
        break
      case 'protocol':
        if (!BIRD_SYMBOL.test(value))
          issues.error(
            l,
            'protocol must be a BIRD protocol name (letters, digits, _)',
            value,
          )
        else if (out.protocols.includes(value))
          issues.error(l, 'protocol listed twice', value)
        else out.protocols.push(value)
        break
      case 'service':
        if (!SERVICE.test(value))
          issues.error(
            l,
            'service must be <ipv4>:<port> or [<ipv6>]:<port> as traffic-manager names it',
            value,
          )
        else if (out.services.includes(value))
          issues.error(l, 'service listed twice', value)
        else out.services.push(value)
        break
      case 'min-nodes': {
        const n = readValue(issues, l, key, MIN_NODES, value)
        if (n !== undefined && once(l, key)) out.minNodes = n
        break
      }
      default:
        issues.error(l, 'unknown directive', key)
    }
  }
  if (out.protocols.length === 0)
    issues.error(
      { file, line: 0 },
      'at least one `protocol <name>` (a BIRD static protocol) is required',
    )
  return configResult(issues, () => deepFreeze(out))
}

export async function loadConfig(path: string): Promise<AnnouncerConfig> {
  return configOrThrow(parseConfig(await readConfigFile(path), path))
}
