// Pure: from the live table (and operator overrides) to the backend set of
// one virtual service. Nodes that report `up` or `drain` are in the set
// (drain with weight 0, so open connections keep their counters); nodes
// that are down, timed out or never reported are not. N+M: standby nodes
// join only while fewer of the service's active nodes are serving than are
// configured, the first standbys (config order) first.

import type { Backend } from './data-plane.js'
import type { ServiceConfig } from './config.js'
import type { NodeEntry } from './live-table.js'
import { weightFromLoad } from './weights.js'

export interface PlannedBackend extends Backend {
  readonly load: number
  readonly role: NodeEntry['role']
  /** 'auto' from the load index, 'manual' from a `weight` override. */
  readonly weightSource: 'auto' | 'manual'
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
  let maxLoad = 0
  for (const { e } of present) if (e.status === 'up' && e.load > maxLoad) maxLoad = e.load
  const weightOf = (e: NodeEntry): { weight: number; source: 'auto' | 'manual' } => {
    if (e.status !== 'up') return { weight: 0, source: 'auto' }
    const o = overrides?.get(e.address)
    if (o !== undefined) return { weight: o, source: 'manual' }
    return { weight: weightFromLoad(e.load, maxLoad), source: 'auto' }
  }
  const activesConfigured = service.nodes.filter(n => lookup(n.address)?.role === 'active').length
  let serving = 0
  for (const { e } of present) if (e.role === 'active' && weightOf(e).weight > 0) serving++
  let standbySlots = Math.max(0, activesConfigured - serving)
  const out: PlannedBackend[] = []
  for (const { n, e } of present) {
    const w = weightOf(e)
    if (e.role === 'standby') {
      if (w.weight === 0 || standbySlots === 0) continue
      standbySlots--
    }
    out.push({
      id: e.address,
      host: n.address,
      port: n.port,
      weight: w.weight,
      load: e.load,
      role: e.role,
      weightSource: w.source,
    })
  }
  return out
}
