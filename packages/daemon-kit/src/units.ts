// Value parsers shared by config grammars. Each returns undefined on bad
// input so the caller can report it with file:line and the raw value.

import { isIP } from 'node:net'

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
}

/**
 * Parses a duration into milliseconds: `200ms`, `1.5s`, `2m`, or a bare
 * number in `bareUnit` (heartbeat and ldirectord take seconds, tcd.conf ms).
 */
export function parseDuration(
  text: string,
  bareUnit: 'ms' | 's' = 's',
): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  if (!m) return undefined
  const n = Number(m[1])
  const unit = (m[2] ?? '').toLowerCase() || bareUnit
  const factor = UNIT_MS[unit]
  if (factor === undefined || !Number.isFinite(n)) return undefined
  return Math.round(n * factor)
}

/** Integer in [min, max], decimal only. */
export function parseIntRange(
  text: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (!/^-?\d+$/.test(text.trim())) return undefined
  const n = Number(text)
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined
}

/** Finite decimal number in [min, max]. */
export function parseNumberRange(
  text: string,
  min = -Infinity,
  max = Infinity,
): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(text.trim())) return undefined
  const n = Number(text)
  return n >= min && n <= max ? n : undefined
}

const TRUE = new Set(['on', 'yes', 'true', '1'])
const FALSE = new Set(['off', 'no', 'false', '0'])

/** on/off, yes/no, true/false, 1/0 (case-insensitive). */
export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase()
  if (TRUE.has(t)) return true
  if (FALSE.has(t)) return false
  return undefined
}

export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * `1.2.3.4:80`, `[::1]:80`, `host:80`, or a bare host when `defaultPort`
 * is given. IPv6 needs brackets when a port follows.
 */
export function parseHostPort(
  text: string,
  defaultPort?: number,
): HostPort | undefined {
  const t = text.trim()
  let host: string
  let portText: string | undefined
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t)
  if (v6) {
    host = v6[1] as string
    portText = v6[2]
    if (isIP(host) !== 6) return undefined
  } else if (isIP(t) === 6) {
    host = t
  } else {
    const i = t.lastIndexOf(':')
    host = i < 0 ? t : t.slice(0, i)
    portText = i < 0 ? undefined : t.slice(i + 1)
    if (!/^[A-Za-z0-9.-]+$/.test(host)) return undefined
  }
  const port =
    portText === undefined ? defaultPort : parseIntRange(portText, 0, 65535)
  if (port === undefined || host === '') return undefined
  return { host, port }
}

/** Formats host and port for logs and URLs, bracketing IPv6. */
export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6
    ? `[${hp.host}]:${hp.port}`
    : `${hp.host}:${hp.port}`
}
