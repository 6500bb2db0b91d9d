// Pure: from the live table (and operator overrides) to the backend set of
// one virtual service. Nodes that report `up` or `drain` are in the set
// (drain with weight 0, so open connections keep their counters); nodes
// that are down, timed out or never reported are not. N+M: standby nodes
// join only while fewer of the service's active nodes are serving than are
// configured, the first standbys (config order) first.
//
// Fail-static: when no node of the service is serving and the nodes that
// were serving went silent (timed out with `up` as their last report), the
// silence is more likely the report path's (a firewall change, a lost
// route, every traffic-client restarted by one bad deploy) than every web
// server's at once, so they stay in at equal weight until a report comes.
// Dead nodes then cost the clients a failed connect instead of a refused
// one; live nodes keep serving. A node that said `down` or `drain`, or was
// set to weight 0 by hand, is never kept: that silence was asked for.
// `fail-static off` in the service block turns this off.

import type { Backend } from './data-plane.js'
import type { ServiceConfig } from './config.js'
import type { NodeEntry } from './live-table.js'
import { weightFromLoad } from './weights.js'

export interface PlannedBackend extends Backend {
  readonly load: number
  readonly role: NodeEntry['role']
  /** 'auto' from the load index, 'manual' from a `weight` override. */
  readonly weightSource: 'auto' | 'manual'
  /** Kept by fail-static: silent, last reported `up`, and no node serves. */
  readonly kept?: true
}

export function planBackends(
  service: ServiceConfig,
  lookup: (address: string) => NodeEntry | undefined,
  overrides: ReadonlyMap<string, number> | undefined,
): PlannedBackend[] {
  const present: { n: ServiceConfig['nodes'][number]; e: NodeEntry }[] = []
  for (const n of service.nodes) {
    const e = lookup(n.address)
    if (e && (e.status === 'up' || e.status === 'drain')) present.push({ n, e })
  }
  // Serving: up and not quiesced by a manual weight 0. A load index of 0
  // (busy) still serves: it is not a drain (weights.ts).
  const serves = (e: NodeEntry): boolean =>
    e.status === 'up' && overrides?.get(e.address) !== 0
  const activesConfigured = service.nodes.filter(
    n => lookup(n.address)?.role === 'active',
  ).length
  let standbySlots = activesConfigured
  for (const { e } of present)
    if (e.role === 'active' && serves(e)) standbySlots--
  const members = present.filter(({ e }) => {
    if (e.role === 'active') return true
    if (!serves(e) || standbySlots <= 0) return false
    standbySlots--
    return true
  })
  // Weights are relative to the members only: an idle standby's index must
  // not shrink the actives' weights.
  let maxLoad = 0
  for (const { e } of members)
    if (e.status === 'up' && e.load > maxLoad) maxLoad = e.load
  const planned: PlannedBackend[] = members.map(({ n, e }) => {
    const o = e.status === 'up' ? overrides?.get(e.address) : undefined
    const weight =
      e.status !== 'up' ? 0 : (o ?? weightFromLoad(e.load, maxLoad))
    return {
      id: e.address,
      host: n.address,
      port: n.port,
      weight,
      load: e.load,
      role: e.role,
      weightSource: o !== undefined ? ('manual' as const) : ('auto' as const),
    }
  })
  if (!service.failStatic || planned.some(p => p.weight > 0)) return planned
  for (const n of service.nodes) {
    const e = lookup(n.address)
    if (
      e?.status === 'timeout' &&
      e.reported === 'up' &&
      overrides?.get(e.address) !== 0
    ) {
      planned.push({
        id: e.address,
        host: n.address,
        port: n.port,
        weight: 1,
        load: e.load,
        role: e.role,
        weightSource: 'auto',
        kept: true,
      })
    }
  }
  return planned
}

/** True when the plan serves from nodes kept by fail-static. */
export const failStatic = (plan: readonly PlannedBackend[]): boolean =>
  plan.some(p => p.kept === true)
