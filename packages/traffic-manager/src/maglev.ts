// Maglev consistent hashing (Eisenbud et al., NSDI 2016; the idea behind
// IPVS's `mh` scheduler), written for the direct-routing data plane: a
// lookup table of prime size M where every entry names a node. Pure and
// deterministic: the table depends only on the nodes' ids, their weights
// and M, never on input order or on the process, so two masters given the
// same live nodes build the same table and a flow hashed by the kernel
// lands on the same node whichever master holds the VIP.

import { createHash } from 'node:crypto'

export interface MaglevNode {
  /** Stable identity (the node's `host:port`); it alone decides the permutation. */
  readonly id: string
  /** Relative share; 0 (or below) takes no entries. */
  readonly weight: number
}

/** Entry i names nodes[table[i]] of the `nodes` array returned with it. */
export interface MaglevTable {
  readonly size: number
  /** Live nodes sorted by id: the index space of `entries`. */
  readonly nodes: readonly MaglevNode[]
  /** Node index per bucket; empty when no node has weight. */
  readonly entries: Uint32Array
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

export function nextPrime(n: number): number {
  let p = Math.max(2, Math.ceil(n))
  while (!isPrime(p)) p++
  return p
}

/** Two independent 32-bit hashes of the id: offset and skip of its permutation. */
function idHashes(id: string): [number, number] {
  const d = createHash('sha256').update(id).digest()
  return [d.readUInt32BE(0), d.readUInt32BE(4)]
}

/**
 * Builds the table. Each live node walks its own permutation of the
 * buckets (offset + j·skip mod M, a full cycle because M is prime) and
 * claims the first free bucket on each of its turns. Weights set how many
 * turns a node gets: every round each node adds its weight to a credit and
 * takes one turn per `max weight` of credit, so shares follow weights while
 * a heavy node never runs ahead of the others by more than one round. That
 * interleaving keeps the table's disruption near 1/N on a change.
 */
export function buildMaglevTable(
  nodesIn: readonly MaglevNode[],
  size: number,
): MaglevTable {
  if (!isPrime(size))
    throw new RangeError(`Maglev table size must be prime, got ${size}`)
  const seen = new Set<string>()
  const nodes = nodesIn
    .filter(n => n.weight > 0 && Number.isFinite(n.weight))
    .filter(n => (seen.has(n.id) ? false : (seen.add(n.id), true)))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const entries = new Uint32Array(nodes.length === 0 ? 0 : size)
  if (nodes.length === 0) return { size, nodes, entries }
  const NONE = 0xffffffff
  entries.fill(NONE)
  const offset = new Array<number>(nodes.length)
  const skip = new Array<number>(nodes.length)
  const next = new Array<number>(nodes.length).fill(0)
  const credit = new Array<number>(nodes.length).fill(0)
  nodes.forEach((n, i) => {
    const [h1, h2] = idHashes(n.id)
    offset[i] = h1 % size
    skip[i] = (h2 % (size - 1)) + 1
  })
  const maxW = Math.max(...nodes.map(n => n.weight))
  let filled = 0
  // Bounded: every turn fills one bucket, and each round gives at least the
  // heaviest node a turn, so at most `size` rounds.
  for (let round = 0; filled < size && round <= size; round++) {
    for (let i = 0; i < nodes.length && filled < size; i++) {
      credit[i] = (credit[i] as number) + (nodes[i] as MaglevNode).weight
      while ((credit[i] as number) >= maxW && filled < size) {
        credit[i] = (credit[i] as number) - maxW
        // Walk this node's permutation to its next free bucket.
        let c =
          ((offset[i] as number) + (next[i] as number) * (skip[i] as number)) %
          size
        while (entries[c] !== NONE) {
          next[i] = (next[i] as number) + 1
          c =
            ((offset[i] as number) +
              (next[i] as number) * (skip[i] as number)) %
            size
        }
        entries[c] = i
        next[i] = (next[i] as number) + 1
        filled++
      }
    }
  }
  return { size, nodes, entries }
}

/** Buckets per node id (for status and tests). */
export function maglevShares(t: MaglevTable): Map<string, number> {
  const out = new Map<string, number>(t.nodes.map(n => [n.id, 0]))
  for (const i of t.entries) {
    const id = (t.nodes[i] as MaglevNode).id
    out.set(id, (out.get(id) ?? 0) + 1)
  }
  return out
}

/** Fraction of buckets whose node differs between two tables of one size. */
export function maglevDisruption(a: MaglevTable, b: MaglevTable): number {
  if (a.size !== b.size) throw new RangeError('tables of different sizes')
  if (a.entries.length === 0 || b.entries.length === 0) return 1
  let moved = 0
  for (let i = 0; i < a.size; i++) {
    if (
      a.nodes[a.entries[i] as number]?.id !==
      b.nodes[b.entries[i] as number]?.id
    )
      moved++
  }
  return moved / a.size
}

/** Default table size: prime ≥ 100 × max(nodes, 20), so it stays fixed as nodes come and go. */
export const MAGLEV_MIN_NODES = 20

export function maglevSize(nodeCount: number, configured?: number): number {
  if (configured !== undefined) return configured
  return nextPrime(100 * Math.max(nodeCount, MAGLEV_MIN_NODES))
}
