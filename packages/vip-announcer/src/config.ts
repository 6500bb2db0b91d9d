// vip-announcer.conf: one `directive value` per line, `#` comments, the
// same shape as tmd.conf. Every problem names file:line and the bad value;
// a file with any error is refused whole (so a reload is all or nothing).

import {
  IssueList,
  deepFreeze,
  parseDuration,
  parseIntRange,
  readConfigFile,
  sourceLines,
  splitWords,
  type SourceLine,
  configOrThrow,
  type ConfigResult,
  configResult,
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
const DURATIONS: Record<string, { key: Durations; min: number; max: number }> =
  {
    'check-interval': { key: 'checkIntervalMs', min: 5, max: 10_000 },
    'check-timeout': { key: 'checkTimeoutMs', min: 5, max: 10_000 },
    settle: { key: 'settleMs', min: 0, max: 600_000 },
    drain: { key: 'drainMs', min: 0, max: 600_000 },
    'bird-timeout': { key: 'birdTimeoutMs', min: 50, max: 60_000 },
  }

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
    const value = args[0] ?? ''
    if (args.length !== 1) {
      issues.error(l, `${key} takes exactly one value`, args.join(' '))
      continue
    }
    const d = DURATIONS[key]
    if (d) {
      const ms = parseDuration(value, 'ms')
      if (ms === undefined || ms < d.min || ms > d.max) {
        issues.error(
          l,
          `${key} must be a duration in ${d.min}ms..${d.max}ms (bare number = ms)`,
          value,
        )
      } else if (once(l, key)) out[d.key] = ms
      continue
    }
    switch (key) {
      case 'bird-socket':
      case 'traffic-manager':
        if (!value.startsWith('/'))
          issues.error(l, `${key} must be an absolute socket path`, value)
        else if (once(l, key))
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
        const n = parseIntRange(value, 1, 10_000)
        if (n === undefined)
          issues.error(l, 'min-nodes must be an integer in 1..10000', value)
        else if (once(l, key)) out.minNodes = n
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
