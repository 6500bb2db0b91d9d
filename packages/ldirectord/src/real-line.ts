// The `real =` line of ldirectord.cf, apart from the rest of the grammar:
// address or IPv4 range, forwarding method, weight, and the optional
// per-real "request", "receive" pair.

import { isIP } from 'node:net'
import {
  parseHostPort,
  parseIntRange,
  splitWords,
  type IssueList,
  type SourceLine,
} from '@has/daemon-kit'
import type { Forwarding, RealServer } from './config-types.js'

const DEFAULT_WEIGHT = 1

/**
 * `real = ip[->ip][:port] gate|masq|ipip [weight] ["request", "receive"]`.
 * An IPv4 range (`10.0.0.1->10.0.0.3`) expands to one real per address.
 * `real6` (v6 true) takes an IPv6 address, `[v6][:port]` or bare `v6`.
 */
export function parseReal(
  l: SourceLine,
  value: string,
  vport: number,
  issues: IssueList,
  v6 = false,
): RealServer[] {
  const words = splitWords(value.replace(/"\s*,\s*"/g, '" "'))
  const [addr = '', fwd = '', ...rest] = words
  const range =
    /^(\d+\.\d+\.\d+\.)(\d+)->(\d+\.\d+\.\d+\.)(\d+)(?::(\d+))?$/.exec(addr)
  let hosts: string[]
  let port: number | undefined
  if (range) {
    const [, p1, a, p2, b, pt] = range as unknown as string[]
    if (
      p1 !== p2 ||
      Number(a) > Number(b) ||
      isIP(`${p1}${b}`) !== 4 ||
      isIP(`${p1}${a}`) !== 4
    ) {
      issues.error(l, 'bad real server range', addr)
      return []
    }
    hosts = []
    for (let i = Number(a); i <= Number(b); i++) hosts.push(`${p1}${i}`)
    port = pt === undefined ? vport : parseIntRange(pt, 1, 65535)
  } else {
    const hp = parseHostPort(addr, vport)
    hosts = hp ? [hp.host] : []
    port = hp?.port
  }
  if (hosts.length === 0 || port === undefined || port === 0) {
    issues.error(
      l,
      `${v6 ? 'real6 must be [ipv6]' : 'real must be ip'}[:port] followed by gate, masq or ipip`,
      addr,
    )
    return []
  }
  if (v6 && (range || isIP(hosts[0] as string) !== 6)) {
    issues.error(l, 'real6 must be an IPv6 address, [ipv6][:port]', addr)
    return []
  }
  const forwarding = fwd.toLowerCase()
  if (forwarding !== 'gate' && forwarding !== 'masq' && forwarding !== 'ipip') {
    issues.error(
      l,
      'forwarding method must be gate, masq or ipip',
      fwd || value,
    )
    return []
  }
  let weight = DEFAULT_WEIGHT
  if (rest[0] !== undefined && /^\d+$/.test(rest[0])) {
    const w = parseIntRange(rest.shift() as string, 0, 65535)
    if (w === undefined) {
      issues.error(l, 'weight must be 0..65535', value)
      return []
    }
    weight = w
  }
  const extra = rest.filter(w => !/^<[lu]:\d+>$/.test(w))
  if (rest.length !== extra.length) {
    issues.error(
      l,
      'connection thresholds (<l:N> <u:N>) are not supported',
      value,
    )
    return []
  }
  if (extra.length !== 0 && extra.length !== 2) {
    issues.error(
      l,
      'expected "request", "receive" after the weight',
      extra.join(' '),
    )
    return []
  }
  if (extra[1] !== undefined && !validRegex(extra[1])) {
    issues.error(l, 'receive is not a valid regular expression', extra[1])
    return []
  }
  return hosts.map(host => ({
    host,
    port: port as number,
    forwarding: forwarding as Forwarding,
    weight,
    line: l.line,
    ...(extra[0] !== undefined
      ? { request: extra[0], receive: extra[1] as string }
      : {}),
  }))
}

export function validRegex(s: string): boolean {
  try {
    new RegExp(s)
    return true
  } catch {
    return false
  }
}
