// Pure builders for the direct-routing data plane (`dataplane nftables-dr`):
// from a virtual service, its resolved nodes and a Maglev table to the text
// `nft -f -` applies in one transaction. Nothing here touches the kernel.
//
// Shape (one `netdev` table per service, its ingress chain bound to the
// interface facing the nodes):
//   in      : packets to VIP:port only. A flow already pinned to a node (its
//             source address . port is in that node's set) goes to the node;
//             otherwise the kernel's jhash of source address . port picks a
//             Maglev bucket, and the bucket's node.
//   to_<n>  : adds or refreshes the flow in the node's set (timeout = idle
//             time after which an unseen flow is forgotten), counts it, sets
//             the destination MAC to the node's and `fwd`s it out the same
//             interface (or the one the node is on-link through, with
//             node-interfaces any). The node holds the VIP on lo and answers the client
//             itself: replies never cross this host.
// Rewrites flush only the chains: the per-node flow sets survive, so a node
// joining or a weight change (a new Maglev table) moves no pinned flow; a
// node that leaves takes its set (and only its flows) with it. Drain
// (weight 0) keeps the node's chain and set but gives it no bucket.

import type { VirtualServiceSpec } from '../data-plane.js'
import type { MaglevTable } from '../maglev.js'
import { isPrime } from '../maglev.js'
import {
  DEFAULT_WEIGHT_INTERVAL_MS,
  parseWeightInterval,
} from './update-queue.js'

export interface DrOptions {
  readonly protocol: 'tcp' | 'udp'
  /** Interface facing clients and nodes; default: the route to the nodes. */
  readonly iface?: string
  /** Seconds an idle flow stays pinned. */
  readonly flowTimeoutS: number
  /** Pinned flows per node at most (set size); beyond it flows are hashed only. */
  readonly flowMax: number
  /** Maglev table size (prime); default maglevSize(). */
  readonly tableSize?: number
  /** jhash seed; both masters must use the same one. */
  readonly seed: number
  readonly table?: string
  /**
   * Which interfaces nodes may be on-link through: `hooked` (default) only
   * the hooked one; `any` also others of this host, e.g. a VXLAN overlay
   * that extends a node's remote segment to the director (docs: "A node on
   * another L2 segment"). Needs `iface`: the hook must face the clients.
   */
  readonly nodeInterfaces: 'hooked' | 'any'
  /** Least spacing of weight-only table writes (update-queue.ts). */
  readonly weightIntervalMs: number
}

export const DEFAULT_DR_OPTIONS: DrOptions = Object.freeze({
  protocol: 'tcp' as const,
  flowTimeoutS: 900,
  flowMax: 262_144,
  seed: 0x4841_5331,
  nodeInterfaces: 'hooked' as const,
  weightIntervalMs: DEFAULT_WEIGHT_INTERVAL_MS,
})

/** A node the plane forwards to: resolved link-layer address included. */
export interface DrNode {
  /** Backend.id */
  readonly id: string
  readonly host: string
  readonly port: number
  readonly weight: number
  readonly mac: string
  /** Interface the node is on-link through, when not the hooked one, and its MAC. */
  readonly via?: { readonly dev: string; readonly mac: string }
}

export function drTableName(
  spec: VirtualServiceSpec,
  opts: Pick<DrOptions, 'table'> = {},
): string {
  if (opts.table) return opts.table
  return `has_dr_${spec.name.replace(/[^A-Za-z0-9]/g, '_')}`.slice(0, 64)
}

/** Per-node object names: stable for a node across updates. */
export function drNames(n: Pick<DrNode, 'host' | 'port'>): {
  set: string
  chain: string
  counter: string
  newChain: string
  newCounter: string
} {
  const id = `${n.host.replace(/[^A-Za-z0-9]/g, '_')}_${n.port}`
  return {
    set: `f_${id}`,
    chain: `to_${id}`,
    counter: `n_${id}`,
    newChain: `nw_${id}`,
    newCounter: `c_${id}`,
  }
}

/** Maglev id of a node: host:port, as both masters name it. */
export function maglevId(n: Pick<DrNode, 'host' | 'port'>): string {
  return n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`
}

/**
 * `0-4 : goto to_a, 5 : goto to_b, ...` with runs of one node merged;
 * `chainOf` maps a table node index to its chain.
 */
export function bucketVmap(
  t: MaglevTable,
  chainOf: (index: number) => string,
): string {
  const parts: string[] = []
  let start = 0
  for (let i = 1; i <= t.entries.length; i++) {
    if (i < t.entries.length && t.entries[i] === t.entries[start]) continue
    const range = i - 1 === start ? `${start}` : `${start}-${i - 1}`
    parts.push(`${range} : goto ${chainOf(t.entries[start] as number)}`)
    start = i
  }
  return parts.join(', ')
}

export interface DrRulesetInput {
  readonly spec: VirtualServiceSpec
  readonly opts: DrOptions
  readonly iface: string
  /**
   * The interface's own MAC, set as source: a frame sent out with the
   * client's MAC would teach the switch that the client sits behind this
   * port, and the node's replies would come here.
   */
  readonly ifaceMac: string
  /** Every node that keeps its pinned flows (live, drained included). */
  readonly nodes: readonly DrNode[]
  /** Maglev table over the nodes with weight; its ids are maglevId(node). */
  readonly maglev: MaglevTable
  /** Names (from drNames) of nodes that left: their objects are deleted. */
  readonly gone: readonly DrNode[]
}

export function buildDrRuleset(input: DrRulesetInput): string {
  const { spec, opts, iface, maglev } = input
  const T = `netdev ${drTableName(spec, opts)}`
  const l3 = spec.family === 6 ? 'ip6' : 'ip'
  const p = opts.protocol
  const key = `${l3} saddr . ${p} sport`
  const keyType = `typeof ${l3} saddr . ${p} sport`
  // Only frames sent to this host's MAC: a flooded frame or one seen by a
  // promiscuous NIC belongs to another director (docs/direct-routing.md).
  const match = `meta pkttype host ${l3} daddr ${spec.address} ${p} dport ${spec.port}`
  const lines: string[] = [
    `add table ${T}`,
    `add chain ${T} in { type filter hook ingress device ${JSON.stringify(iface)} priority 0; policy accept; }`,
    `flush chain ${T} in`,
    `add counter ${T} vip_new`,
    `add counter ${T} vip_fallback`,
    `add counter ${T} vip_none`,
  ]
  for (const n of input.nodes) {
    const c = drNames(n)
    lines.push(
      `add set ${T} ${c.set} { ${keyType}; flags dynamic,timeout; timeout ${opts.flowTimeoutS}s; size ${opts.flowMax}; }`,
      `add counter ${T} ${c.counter}`,
      `add counter ${T} ${c.newCounter}`,
      `add chain ${T} ${c.chain}`,
      `flush chain ${T} ${c.chain}`,
      // Two rules: a full set fails only the update, never the forwarding.
      `add rule ${T} ${c.chain} update @${c.set} { ${key} }`,
      `add rule ${T} ${c.chain} counter name ${c.counter} ether saddr set ${n.via?.mac ?? input.ifaceMac} ether daddr set ${n.mac} fwd to ${JSON.stringify(n.via?.dev ?? iface)}`,
      // New flows enter here (from the Maglev map), so c_ counts flows.
      `add chain ${T} ${c.newChain}`,
      `flush chain ${T} ${c.newChain}`,
      `add rule ${T} ${c.newChain} counter name ${c.newCounter} goto ${c.chain}`,
    )
  }
  // Pinned flows first: a node's set is consulted only while it is live.
  for (const n of input.nodes) {
    const c = drNames(n)
    lines.push(`add rule ${T} in ${match} ${key} @${c.set} goto ${c.chain}`)
  }
  const byId = new Map(input.nodes.map(n => [maglevId(n), n]))
  if (maglev.entries.length > 0) {
    const chainOf = (i: number): string => {
      const n = byId.get(maglev.nodes[i]?.id ?? '')
      if (!n)
        throw new Error(
          `Maglev node ${maglev.nodes[i]?.id} is not among the nodes`,
        )
      return drNames(n).newChain
    }
    lines.push(
      `add rule ${T} in ${match} counter name vip_new jhash ${key} mod ${maglev.size} seed 0x${opts.seed.toString(16)} vmap { ${bucketVmap(maglev, chainOf)} }`,
      // A rewrite can let a packet meet this rule before its map's elements
      // are visible (finding N, measured on the NAT plane's map): it goes
      // to the table's first node rather than up the local stack (RST).
      `add rule ${T} in ${match} counter name vip_fallback goto ${chainOf(0)}`,
    )
  }
  // No node with weight: the packet goes up the local stack, which holds the
  // VIP and refuses it (RST), as the NAT plane does.
  lines.push(`add rule ${T} in ${match} counter name vip_none`)
  for (const n of input.gone) {
    const c = drNames(n)
    lines.push(
      `delete chain ${T} ${c.newChain}`,
      `delete chain ${T} ${c.chain}`,
      `delete set ${T} ${c.set}`,
      `delete counter ${T} ${c.counter}`,
      `delete counter ${T} ${c.newCounter}`,
    )
  }
  return lines.join('\n') + '\n'
}

export function buildDrDeleteTable(
  spec: VirtualServiceSpec,
  opts: Pick<DrOptions, 'table'> = {},
): string {
  return `delete table netdev ${drTableName(spec, opts)}\n`
}

/** Parses `option` lines: protocol, interface, node-interfaces, flow-timeout, flow-max, table-size, hash-seed, table. */
export function parseDrOptions(
  options: Readonly<Record<string, string>>,
): DrOptions {
  let o: { -readonly [K in keyof DrOptions]: DrOptions[K] } = {
    ...DEFAULT_DR_OPTIONS,
  }
  for (const [k, v] of Object.entries(options)) {
    switch (k) {
      case 'protocol':
        if (v !== 'tcp' && v !== 'udp')
          throw new Error(`protocol: expected tcp or udp, got "${v}"`)
        o.protocol = v
        break
      case 'interface':
        if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(v))
          throw new Error(`interface: not an interface name: "${v}"`)
        o.iface = v
        break
      case 'flow-timeout': {
        const s = Number(v.replace(/s$/, ''))
        if (!Number.isInteger(s) || s < 1 || s > 86_400)
          throw new Error(
            `flow-timeout: expected 1 to 86400 seconds, got "${v}"`,
          )
        o.flowTimeoutS = s
        break
      }
      case 'flow-max': {
        const n = Number(v)
        if (!Number.isInteger(n) || n < 1024 || n > 16_777_216)
          throw new Error(`flow-max: expected 1024 to 16777216, got "${v}"`)
        o.flowMax = n
        break
      }
      case 'table-size': {
        const n = Number(v)
        if (!isPrime(n) || n > 1_000_003)
          throw new Error(
            `table-size: expected a prime up to 1000003, got "${v}"`,
          )
        o.tableSize = n
        break
      }
      case 'hash-seed': {
        const n = Number(v)
        if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
          throw new Error(`hash-seed: expected a 32-bit integer, got "${v}"`)
        o.seed = n
        break
      }
      case 'table':
        if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(v))
          throw new Error(`table: not an nft identifier: "${v}"`)
        o = { ...o, table: v }
        break
      case 'node-interfaces':
        if (v !== 'hooked' && v !== 'any')
          throw new Error(`node-interfaces: expected hooked or any, got "${v}"`)
        o.nodeInterfaces = v
        break
      case 'weight-interval':
        o.weightIntervalMs = parseWeightInterval(v)
        break
      default:
      // Other keys belong to the control plane or the NAT plane.
    }
  }
  // The hook must face the clients: it cannot be guessed from a node's route.
  if (o.nodeInterfaces === 'any' && !o.iface)
    throw new Error(
      "node-interfaces any: needs option interface (the interface the clients' packets arrive on)",
    )
  return o
}
