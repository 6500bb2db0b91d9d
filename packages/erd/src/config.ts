// erd.conf: one `directive value` per line, `#` comments. DEFAULTS holds
// bonding-like values (times in ms). parseConfig is pure and names every
// problem with file:line and the bad value; loadConfig is the only I/O.

import { existsSync } from 'node:fs'
import {
  IssueList,
  deepFreeze,
  readConfigFile,
  splitWords,
  sourceLines,
  type ConfigIssue,
  type ConfigResult,
  type ValueType,
  duration,
  pattern,
  bool,
  oneOf,
  int,
  lookupDirective,
  oneArg,
  readValue,
  SeenDirectives,
  configResult,
} from '@has/daemon-kit'

export const PRIMARY_RESELECT = ['always', 'better', 'failure'] as const
export type PrimaryReselect = (typeof PRIMARY_RESELECT)[number]

export interface ErdConfig {
  readonly primary: string
  readonly secondary: string
  /**
   * Period of the active link's carrier sample, ms (bonding miimon). Link
   * events alone can lag: the kernel rate-limits most carrier-loss events
   * to one a second (linkwatch). Both links are fully checked every
   * FULL_POLL_INTERVAL (or poll_interval if longer, or always with
   * link_events off).
   */
  readonly poll_interval: number
  /** Watch `ip monitor link` events (off: poll only, like bonding miimon). */
  readonly link_events: boolean
  /** A link must stay up this long before it is used again, ms. */
  readonly updelay: number
  /** A link must stay down this long before it is given up, ms. */
  readonly downdelay: number
  readonly primary_reselect: PrimaryReselect
  /** Carrier losses within flap_window that mark a link as flapping; 0 = off. */
  readonly flap_limit: number
  readonly flap_window: number
  /** Up-delay for a flapping link (replaces updelay when longer), ms. */
  readonly hold_time: number
  readonly ipv4: boolean
  readonly ipv6: boolean
  /** Added to a primary route's metric for its copy on the secondary. */
  readonly metric_offset: number
  /** Announcements (gratuitous ARP, unsolicited NA). */
  readonly announce_count: number
  readonly announce_interval: number
}

export const DEFAULTS: ErdConfig = deepFreeze({
  primary: 'eth0',
  secondary: 'eth1',
  poll_interval: 100, // ms, bonding's "good starting point" for miimon
  link_events: true,
  updelay: 2000, // ms
  downdelay: 0, // ms
  primary_reselect: 'always',
  flap_limit: 3,
  flap_window: 30_000, // ms
  hold_time: 10_000, // ms
  ipv4: true,
  ipv6: true,
  metric_offset: 100,
  announce_count: 3,
  announce_interval: 200, // ms
})

/** Period of the full check of both links (carrier, operstate) next to link events, ms. */
export const FULL_POLL_INTERVAL = 1000

/** Directives a reload cannot change (the monitor and routes depend on them). */
export const RESTART_DIRECTIVES = [
  'primary',
  'secondary',
  'ipv4',
  'ipv6',
  'metric_offset',
  'link_events',
] as const

/** The kit's duration type with erd's own wording of the range. */
const ms = (min: number, max: number, expect: string): ValueType<number> => ({
  ...duration(min, max, 'ms'),
  expect,
})
const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/
const iface = pattern(IFNAME, 'an interface name (1-15 chars)')

const DIRECTIVES: { readonly [K in keyof ErdConfig]: ValueType<ErdConfig[K]> } =
  {
    primary: iface,
    secondary: iface,
    poll_interval: ms(10, 60_000, 'a duration 10ms..60s'),
    link_events: bool,
    updelay: ms(0, 3_600_000, 'a duration 0..1h'),
    downdelay: ms(0, 3_600_000, 'a duration 0..1h'),
    primary_reselect: oneOf(PRIMARY_RESELECT),
    flap_limit: int(0, 1000),
    flap_window: ms(0, 86_400_000, 'a duration 0..24h'),
    hold_time: ms(0, 86_400_000, 'a duration 0..24h'),
    ipv4: bool,
    ipv6: bool,
    metric_offset: int(1, 1_000_000),
    announce_count: int(0, 255),
    announce_interval: ms(1, 60_000, 'a duration 1ms..60s'),
  }

/** parseConfig's result: the kit's one shape (config only when no error). */
export type ParseResult = ConfigResult<ErdConfig>

/** Command-line interfaces override the file (`erd eth2 eth3`). */
export interface Overrides {
  readonly primary?: string
  readonly secondary?: string
}

export function parseConfig(
  text: string,
  file: string,
  over: Overrides = {},
): ParseResult {
  const issues = new IssueList()
  const out: Record<string, unknown> = { ...DEFAULTS }
  const seen = new SeenDirectives()
  for (const line of sourceLines(text, file)) {
    const [key = '', ...rest] = splitWords(line.text)
    const type = lookupDirective<ValueType<unknown>>(DIRECTIVES, key)
    if (!type) {
      issues.error(line, `unknown directive "${key}"`)
      continue
    }
    const raw = oneArg(issues, line, key, rest)
    if (raw === undefined) continue
    const value = readValue(issues, line, key, type, raw)
    if (value === undefined) continue
    seen.note(issues, line, key)
    out[key] = value
  }
  const at = { file, line: 0 }
  for (const k of ['primary', 'secondary'] as const) {
    const v = over[k]
    if (v === undefined) continue
    if (IFNAME.test(v)) out[k] = v
    else
      issues.error(
        at,
        `${k} interface from the command line must be an interface name`,
        v,
      )
  }
  if (issues.ok && out.primary === out.secondary) {
    issues.error(
      { file, line: seen.line('secondary') ?? 0 },
      'secondary must differ from primary',
      String(out.secondary),
    )
  }
  return configResult(issues, () => deepFreeze(out as unknown as ErdConfig))
}

/**
 * Reads and validates; a missing file is not an error (erd runs on
 * defaults, as the thesis's `erd eth0 eth1` did), but an unreadable one is.
 */
export async function loadConfig(
  path: string | undefined,
  over: Overrides = {},
  optional = false,
): Promise<{ config: ErdConfig; warnings: readonly ConfigIssue[] }> {
  let text = ''
  if (path !== undefined && !(optional && !existsSync(path))) {
    text = await readConfigFile(path)
  }
  const r = parseConfig(text, path ?? '(defaults)', over)
  if (!r.config) {
    const issues = new IssueList()
    issues.errors.push(...r.errors)
    issues.throwIfAny()
  }
  return { config: r.config as ErdConfig, warnings: r.warnings }
}

/** Names of restart-only directives whose value differs between a and b. */
export function restartOnlyChanges(a: ErdConfig, b: ErdConfig): string[] {
  return RESTART_DIRECTIVES.filter(k => a[k] !== b[k])
}
