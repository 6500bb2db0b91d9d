// Pure parsers for what iproute2 prints: `ip -o monitor link neigh` event
// lines, `ip -j addr` and `ip -j neigh` JSON, and /proc/self/status for
// capabilities. Kept apart from the process handling in kernel.ts.

import type { Neighbour } from './neighbours.js'

export type MonitorEvent =
  | { kind: 'link'; ifname: string; carrier: boolean; deleted: boolean }
  | {
      kind: 'neigh'
      ifname: string
      address: string
      lladdr?: string
      deleted: boolean
    }

/**
 * One line of `ip -o monitor link neigh`:
 *   `3: eth0@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 ... state DOWN ...`
 *   `[Deleted ]2001:db8::1 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE`
 * Anything else (address, other objects, garbage) gives undefined.
 */
export function parseMonitorLine(line: string): MonitorEvent | undefined {
  const deleted = line.startsWith('Deleted ')
  const body = deleted ? line.slice(8) : line
  const link = /^(?:\[LINK\]\s*)?\d+: ([^:@\s]+)(?:@[^:\s]+)?: <([^>]*)>/.exec(
    body,
  )
  if (link) {
    const flags = (link[2] as string).split(',')
    // Usable = administratively up, carrier (LOWER_UP) and operstate up
    // (the kernel has activated the queue); deletion = gone.
    const state = /\bstate (\S+)/.exec(body)?.[1] ?? 'UNKNOWN'
    const carrier =
      !deleted &&
      flags.includes('UP') &&
      flags.includes('LOWER_UP') &&
      (state === 'UP' || state === 'UNKNOWN')
    return { kind: 'link', ifname: link[1] as string, carrier, deleted }
  }
  const neigh =
    /^(?:\[NEIGH\]\s*)?([0-9a-fA-F:.]+) dev (\S+)(?:.* lladdr ([0-9a-fA-F:]+))?/.exec(
      body,
    )
  if (neigh && (neigh[1] as string).length > 1) {
    const e = {
      kind: 'neigh' as const,
      ifname: neigh[2] as string,
      address: neigh[1] as string,
      deleted,
    }
    return neigh[3] && !/\bFAILED\b/.test(body) ? { ...e, lladdr: neigh[3] } : e
  }
  return undefined
}

export interface Address {
  readonly family: 4 | 6
  readonly address: string
  readonly prefixlen: number
  readonly scope: string
  /** Duplicate address detection found another owner: never announced. */
  readonly dadfailed?: true
}

/** An object (not null, not an array) from `ip -j` JSON, fields unknown. */
type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : undefined
// `ip -j` output is trusted, but its shape varies across iproute2
// versions: every value is type-checked so an odd entry (null, a number)
// is skipped instead of throwing in the middle of a failover.
const entries = (json: string): Json[] => {
  const data: unknown = JSON.parse(json === '' ? '[]' : json)
  return Array.isArray(data) ? data.filter(isObject) : []
}

/** `ip -j addr show dev X` → its addresses (tentative and dadfailed ones included, the latter flagged). */
export function parseAddresses(json: string): {
  mac?: string
  addresses: Address[]
} {
  const out: Address[] = []
  let mac: string | undefined
  for (const link of entries(json)) {
    mac ??= str(link.address)
    for (const a of Array.isArray(link.addr_info) ? link.addr_info : []) {
      if (!isObject(a)) continue
      const local = str(a.local)
      if (!local || (a.family !== 'inet' && a.family !== 'inet6')) continue
      out.push({
        family: a.family === 'inet' ? 4 : 6,
        address: local,
        prefixlen: typeof a.prefixlen === 'number' ? a.prefixlen : 0,
        scope: str(a.scope) ?? 'global',
        ...(a.dadfailed === true ? { dadfailed: true as const } : {}),
      })
    }
  }
  return mac === undefined ? { addresses: out } : { mac, addresses: out }
}

/** `ip -j neigh show dev X` → resolved neighbours (address and MAC). */
export function parseNeighbours(json: string): Neighbour[] {
  const out: Neighbour[] = []
  for (const n of entries(json)) {
    const address = str(n.dst)
    const lladdr = str(n.lladdr)
    const failed = Array.isArray(n.state) && n.state.includes('FAILED')
    if (address !== undefined && lladdr !== undefined && !failed)
      out.push({ address, lladdr })
  }
  return out
}

const CAP_NET_ADMIN = 12

/** True when the CapEff line of /proc/<pid>/status holds CAP_NET_ADMIN. */
export function hasNetAdmin(procStatus: string): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus)
  if (!m) return false
  return ((BigInt(`0x${m[1]}`) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n
}
