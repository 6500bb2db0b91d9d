// What one interface advertises, from its config plus runtime state:
// prefixes removed by a reload keep being advertised as deprecated
// (preferred lifetime 0, valid lifetime counting down) until they expire,
// instead of vanishing silently (radvd issues #91, #85); final RAs on
// shutdown carry router lifetime 0. Pure: time is a parameter.

import { INFINITY, type InterfaceConfig, type PrefixConfig } from './config.js'
import type { RaContent, RaPrefix } from './ra.js'

/**
 * RFC 4862 5.5.3 (e): hosts do not cut a valid lifetime below two hours
 * from an unauthenticated RA, so a deprecated prefix counts down from at
 * most this many seconds.
 */
export const DEPRECATE_VALID_CAP = 7200

export interface DeprecatedPrefix {
  readonly prefix: PrefixConfig
  /** ms timestamp when the valid lifetime reaches 0 */
  readonly expiresAt: number
}

const key = (p: { prefix: string; length: number }): string =>
  `${p.prefix}/${p.length}`

/**
 * Reload diff: prefixes in `before` but not in `after` start counting
 * down; a prefix that comes back is advertised normally again; expired
 * ones are dropped.
 */
export function diffPrefixes(
  before: readonly PrefixConfig[],
  after: readonly PrefixConfig[],
  deprecated: readonly DeprecatedPrefix[],
  now: number,
): DeprecatedPrefix[] {
  const kept = new Set(after.map(key))
  const out = deprecated.filter(
    d => !kept.has(key(d.prefix)) && d.expiresAt > now,
  )
  for (const p of before) {
    if (kept.has(key(p)) || out.some(d => key(d.prefix) === key(p))) continue
    const secs = Math.min(p.AdvValidLifetime, DEPRECATE_VALID_CAP)
    if (secs > 0) out.push({ prefix: p, expiresAt: now + secs * 1000 })
  }
  return out
}

/** Drops expired entries (call before building each RA). */
export function pruneDeprecated(
  deprecated: readonly DeprecatedPrefix[],
  now: number,
): DeprecatedPrefix[] {
  return deprecated.filter(d => d.expiresAt > now)
}

function prefixOption(
  p: PrefixConfig,
  valid: number,
  preferred: number,
): RaPrefix {
  return {
    prefix: p.prefix,
    length: p.length,
    onLink: p.AdvOnLink,
    autonomous: p.AdvAutonomous,
    routerAddr: p.AdvRouterAddr,
    valid,
    preferred,
  }
}

export interface ContentOptions {
  readonly now: number
  readonly deprecated?: readonly DeprecatedPrefix[]
  /** Final RA on shutdown (RFC 4861 6.2.5). */
  readonly final?: boolean
  /** Interface MAC, for the source link-layer address option. */
  readonly mac?: string
}

export function raContent(
  iface: InterfaceConfig,
  opts: ContentOptions,
): RaContent {
  const final = opts.final ?? false
  const prefixes = iface.prefixes.map(p =>
    final && p.DeprecatePrefix
      ? prefixOption(p, Math.min(p.AdvValidLifetime, DEPRECATE_VALID_CAP), 0)
      : prefixOption(p, p.AdvValidLifetime, p.AdvPreferredLifetime),
  )
  for (const d of opts.deprecated ?? []) {
    const left = Math.ceil((d.expiresAt - opts.now) / 1000)
    if (left > 0)
      prefixes.push(prefixOption(d.prefix, Math.min(left, INFINITY), 0))
  }
  return {
    curHopLimit: iface.AdvCurHopLimit,
    managed: iface.AdvManagedFlag,
    other: iface.AdvOtherConfigFlag,
    preference: iface.AdvDefaultPreference,
    routerLifetime: final ? 0 : iface.AdvDefaultLifetime,
    reachableTime: iface.AdvReachableTime,
    retransTimer: iface.AdvRetransTimer,
    prefixes,
    routes: iface.routes.map(r => ({
      prefix: r.prefix,
      length: r.length,
      preference: r.AdvRoutePreference,
      lifetime: final && r.RemoveRoute ? 0 : r.AdvRouteLifetime,
    })),
    rdnss: iface.rdnss.map(r => ({
      servers: r.servers,
      lifetime: final && r.FlushRDNSS ? 0 : r.AdvRDNSSLifetime,
    })),
    dnssl: iface.dnssl.map(d => ({
      domains: d.domains,
      lifetime: final && d.FlushDNSSL ? 0 : d.AdvDNSSLLifetime,
    })),
    ...(iface.AdvLinkMTU > 0 ? { mtu: iface.AdvLinkMTU } : {}),
    ...(iface.AdvSourceLLAddress && opts.mac ? { sourceLL: opts.mac } : {}),
  }
}
