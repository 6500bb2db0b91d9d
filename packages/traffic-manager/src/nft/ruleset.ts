// Pure builders for the nftables data plane: from a virtual service and its
// backends to the text `nft -f -` applies in one transaction. Nothing here
// touches the kernel, so every rule shape is unit-tested.
//
// Shape (one table per virtual service, family ip or ip6):
//   prerouting nat  : VIP:port -> numgen random mod <sum of weights> into an
//                     interval map of live backends (weight 0 left out),
//                     then the heaviest backend for a packet the map missed
//   postrouting nat : connections DNATed from this VIP get SNAT to the VIP
//                     (or masquerade), so replies return through whichever
//                     master holds the VIP, also after a failover
//   forward filter  : byte/packet counters per backend and direction
// NAT chains see only the first packet of a connection, so the postrouting
// counter of a backend counts its connections; established flows never
// re-enter the map and so survive every rewrite of it.

import type { Backend, VirtualServiceSpec } from '../data-plane.js'
import { parseWeightInterval } from './update-queue.js'

export type SnatMode =
  | { readonly kind: 'vip' }
  | { readonly kind: 'masquerade' }
  | { readonly kind: 'address'; readonly address: string }
  | { readonly kind: 'none' }

export interface NftOptions {
  readonly snat: SnatMode
  /** Transport protocol of the service. */
  readonly protocol: 'tcp' | 'udp'
  /** Table name; default from the service name. */
  readonly table?: string
  /** Expire a removed node's unanswered flows (default on). */
  readonly expireUnanswered?: boolean
  /** Least spacing of weight-only table writes (update-queue.ts). */
  readonly weightIntervalMs?: number
}

export const DEFAULT_NFT_OPTIONS: NftOptions = Object.freeze({
  snat: Object.freeze({ kind: 'vip' as const }),
  protocol: 'tcp' as const,
})

/** `conntrack` filter for the flows of this service (its VIP and port). */
export function serviceFlowArgs(
  spec: VirtualServiceSpec,
  opts: Pick<NftOptions, 'protocol'>,
): string[] {
  return [
    '-p',
    opts.protocol,
    '--orig-dst',
    spec.address,
    '--orig-port-dst',
    String(spec.port),
  ]
}

/**
 * `conntrack` arguments that delete the flows of this service to a node
 * that left the set and never answered it: TCP connections still in
 * SYN_SENT, and for UDP every flow to the node. Without this a client's
 * retransmitted SYN follows its conntrack entry to the dead node until the
 * client gives up; with it the retransmission passes the map again and
 * reaches a live node. Answered flows are left alone: a node removed by a
 * late report may still be serving them (IPVS's expire_nodest_conn would
 * cut those too).
 */
export function unansweredFlowsArgs(
  spec: VirtualServiceSpec,
  opts: Pick<NftOptions, 'protocol'>,
  b: Pick<Backend, 'host' | 'port'>,
): string[] {
  return [
    '-D',
    '-f',
    spec.family === 6 ? 'ipv6' : 'ipv4',
    ...serviceFlowArgs(spec, opts),
    '--reply-src',
    b.host,
    '--reply-port-src',
    String(b.port),
    ...(opts.protocol === 'tcp' ? ['--state', 'SYN_SENT'] : []),
  ]
}

/** The count in conntrack's "N flow entries have been deleted."; undefined: conntrack failed. */
export function deletedFlows(stderr: string): number | undefined {
  const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(stderr)
  return m ? Number(m[1]) : undefined
}

/** nft table family for the service address. */
export function nftFamily(spec: VirtualServiceSpec): 'ip' | 'ip6' {
  return spec.family === 6 ? 'ip6' : 'ip'
}

/** `has_tm_<service>` with every non-identifier character as `_`. */
export function tableName(
  spec: VirtualServiceSpec,
  opts: Pick<NftOptions, 'table'> = {},
): string {
  if (opts.table) return opts.table
  return `has_tm_${spec.name.replace(/[^A-Za-z0-9]/g, '_')}`.slice(0, 64)
}

/**
 * The table's own counters (not a backend's): new connections, and those
 * the map missed and the fallback rule took.
 */
export const SERVICE_COUNTERS: readonly string[] = ['vip_new', 'vip_fallback']

/** Counter object names for one backend (stable across updates). */
export function counterNames(b: Pick<Backend, 'host' | 'port'>): {
  conns: string
  toNode: string
  fromNode: string
} {
  const id = `${b.host.replace(/[^A-Za-z0-9]/g, '_')}_${b.port}`
  return { conns: `c_${id}`, toNode: `i_${id}`, fromNode: `o_${id}` }
}

/** Address literal inside a concatenation / set (no brackets needed). */
function addr(host: string): string {
  return host
}

/** `0-2 : a . p, 3-9 : b . p`, or undefined when no backend has weight. */
export function weightMap(
  backends: readonly Backend[],
): { modulus: number; elements: string } | undefined {
  const live = backends.filter(b => b.weight > 0)
  if (live.length === 0) return undefined
  let at = 0
  const parts: string[] = []
  for (const b of live) {
    const w = Math.floor(b.weight)
    const from = at
    const to = at + w - 1
    at += w
    parts.push(
      `${from === to ? `${from}` : `${from}-${to}`} : ${addr(b.host)} . ${b.port}`,
    )
  }
  return { modulus: at, elements: parts.join(', ') }
}

/** The live backend with the largest weight (the first of equals). */
export function fallbackBackend(
  backends: readonly Backend[],
): Backend | undefined {
  let best: Backend | undefined
  for (const b of backends)
    if (b.weight > 0 && (!best || b.weight > best.weight)) best = b
  return best
}

/** `10.0.0.21:80` or `[2001:db8::21]:80`, as a dnat target. */
function hostPortLiteral(
  spec: VirtualServiceSpec,
  b: Pick<Backend, 'host' | 'port'>,
): string {
  return spec.family === 6 ? `[${b.host}]:${b.port}` : `${b.host}:${b.port}`
}

/** Keeps the first backend per host:port, drops weights below zero. */
export function normalizeBackends(backends: readonly Backend[]): Backend[] {
  const seen = new Set<string>()
  const out: Backend[] = []
  for (const b of backends) {
    const key = `${b.host}|${b.port}`
    if (seen.has(key) || !(b.weight >= 0)) continue
    seen.add(key)
    out.push(b)
  }
  return out
}

function snatStatement(
  spec: VirtualServiceSpec,
  fam: 'ip' | 'ip6',
  mode: SnatMode,
): string | undefined {
  switch (mode.kind) {
    case 'vip':
      return `snat ${fam} to ${spec.address}`
    case 'address':
      return `snat ${fam} to ${mode.address}`
    case 'masquerade':
      return 'masquerade'
    case 'none':
      return undefined
  }
}

/**
 * The whole table as one transaction. `add table` + `flush table` keeps
 * the named counters of backends that stay (status survives updates) while
 * every chain and map is rewritten atomically; `stale` names counters of
 * backends that left, deleted after the rules that referenced them.
 */
export function buildRuleset(
  spec: VirtualServiceSpec,
  backendsIn: readonly Backend[],
  opts: NftOptions = DEFAULT_NFT_OPTIONS,
  stale: readonly string[] = [],
): string {
  const fam = nftFamily(spec)
  const table = tableName(spec, opts)
  const proto = opts.protocol
  const backends = normalizeBackends(backendsIn)
  const T = `${fam} ${table}`
  // `add` is idempotent for tables, chains and counters, so the same text
  // creates the table the first time and rewrites it afterwards.
  const lines: string[] = [
    `add table ${T}`,
    `add chain ${T} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ${T} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ${T} forward { type filter hook forward priority filter; policy accept; }`,
    `flush table ${T}`,
  ]
  for (const name of stale) lines.push(`delete counter ${T} ${name}`)
  for (const b of backends) {
    const c = counterNames(b)
    for (const n of [c.conns, c.toNode, c.fromNode])
      lines.push(`add counter ${T} ${n}`)
  }
  for (const n of SERVICE_COUNTERS) lines.push(`add counter ${T} ${n}`)
  const match = `${fam} daddr ${spec.address} ${proto} dport ${spec.port}`
  const map = weightMap(backends)
  const heaviest = fallbackBackend(backends)
  if (map && heaviest) {
    lines.push(
      `add rule ${T} prerouting ${match} counter name vip_new dnat ${fam} to numgen random mod ${map.modulus} map { ${map.elements} }`,
      // A rewrite of this table can let a new connection meet the new rule
      // before its map's elements are visible (11 in 152,000 connections
      // during 34 rewrites a second: bench/nft-rewrite.js). Missing the map,
      // it would reach the local stack, which holds the VIP and refuses it.
      `add rule ${T} prerouting ${match} counter name vip_fallback dnat ${fam} to ${hostPortLiteral(spec, heaviest)}`,
    )
  } else {
    // No live backend: count the attempt and let the kernel refuse it.
    lines.push(`add rule ${T} prerouting ${match} counter name vip_new`)
  }
  // `ct original proto-dst` needs the l4 protocol known first, so the
  // backend match (which names it) comes before the original-tuple match.
  const orig = `ct original ${fam} daddr ${spec.address} ct original proto-dst ${spec.port}`
  const snat = snatStatement(spec, fam, opts.snat)
  for (const b of backends) {
    const c = counterNames(b)
    const to = `${fam} daddr ${addr(b.host)} ${proto} dport ${b.port}`
    const from = `${fam} saddr ${addr(b.host)} ${proto} sport ${b.port}`
    lines.push(
      `add rule ${T} postrouting ${to} ${orig} counter name ${c.conns}${snat ? ` ${snat}` : ''}`,
      `add rule ${T} forward ${to} ${orig} counter name ${c.toNode}`,
      `add rule ${T} forward ${from} ${orig} counter name ${c.fromNode}`,
    )
  }
  return lines.join('\n') + '\n'
}

export function buildDeleteTable(
  spec: VirtualServiceSpec,
  opts: Pick<NftOptions, 'table'> = {},
): string {
  return `delete table ${nftFamily(spec)} ${tableName(spec, opts)}\n`
}

/** Parses the `options` of a virtual service (`snat`, `protocol`, `table`). */
export function parseNftOptions(
  options: Readonly<Record<string, string>>,
): NftOptions {
  let snat: SnatMode = { kind: 'vip' }
  let protocol: 'tcp' | 'udp' = 'tcp'
  let table: string | undefined
  let expireUnanswered = true
  let weightIntervalMs: number | undefined
  for (const [k, v] of Object.entries(options)) {
    if (k === 'snat') {
      if (v === 'vip' || v === 'masquerade' || v === 'none') snat = { kind: v }
      else if (/^[0-9a-fA-F:.]+$/.test(v))
        snat = { kind: 'address', address: v }
      else
        throw new Error(
          `snat: expected vip, masquerade, none or an address, got "${v}"`,
        )
    } else if (k === 'protocol') {
      if (v !== 'tcp' && v !== 'udp')
        throw new Error(`protocol: expected tcp or udp, got "${v}"`)
      protocol = v
    } else if (k === 'table') {
      if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(v))
        throw new Error(`table: not an nft identifier: "${v}"`)
      table = v
    } else if (k === 'expire-unanswered') {
      if (v !== 'on' && v !== 'off')
        throw new Error(`expire-unanswered: expected on or off, got "${v}"`)
      expireUnanswered = v === 'on'
    } else if (k === 'weight-interval') {
      weightIntervalMs = parseWeightInterval(v)
    }
    // Other keys belong to the control plane (scheduler, persistence...).
  }
  const o = {
    snat,
    protocol,
    expireUnanswered,
    ...(weightIntervalMs !== undefined ? { weightIntervalMs } : {}),
  }
  return table ? { ...o, table } : o
}
