// The status snapshot (control `status`, /status, USR1, hasctl): the live
// table and every service's nodes with weight, eligibility and counters.
// Pure over the state: the caller recomputes and refreshes counters first.

import type { NodeEntry } from './live-table.js'
import type { ManagerState } from './manager-state.js'
import { failStatic } from './plan.js'

export interface ServiceNodeStatus {
  address: string
  port: number
  role: NodeEntry['role']
  state: string
  load: number
  weight: number
  weightSource: 'auto' | 'manual'
  eligible: boolean
  active: number
  total: number
  bytesIn: number
  bytesOut: number
  /** Packets matched, where the data plane counts them (nftables); else omitted. */
  packets?: number
  lastReportAgeMs: number | null
  /** Joined by itself (autojoin), not listed in the file. */
  auto?: boolean
  /** Silent but kept in by fail-static (plan.ts). */
  kept?: boolean
}

export interface ServiceStatus {
  name: string
  scheduler: string
  dataplane: string
  persistentMs: number
  running: boolean
  /** Every serving node went silent; the silent ones are kept (plan.ts). */
  failStatic: boolean
  nodes: ServiceNodeStatus[]
}

export interface StatusSnapshot {
  reports: {
    listen: string
    accepted: number
    dropped: Record<string, number>
    keyed: boolean
  }
  timeoutMs: number
  workers: number
  masters: readonly string[]
  nodes: {
    address: string
    role: string
    label: string
    state: string
    load: number
    sender: string | null
    lastReportAgeMs: number | null
  }[]
  services: ServiceStatus[]
}

export function statusView(
  state: ManagerState,
  extra: { readonly reportsListen: string; readonly workers: number },
): StatusSnapshot {
  const { table, services, overrides } = state
  const config = state.config()
  return {
    reports: {
      listen: extra.reportsListen,
      accepted: table.accepted,
      dropped: { ...table.drops },
      keyed: config.key !== undefined,
    },
    timeoutMs: config.timeoutMs,
    workers: extra.workers,
    masters: config.masters,
    nodes: [...table.entries()].map(e => ({
      address: e.address,
      role: e.role,
      label: e.label,
      state: e.status,
      load: e.load,
      sender: e.sender ?? null,
      lastReportAgeMs: table.ageMs(e),
    })),
    services: [...services.values()].map(r => ({
      name: r.cfg.name,
      scheduler: r.cfg.scheduler,
      dataplane: r.cfg.dataplane,
      persistentMs: r.cfg.persistentMs,
      running: r.dp !== undefined,
      failStatic: failStatic(r.plan),
      nodes: state.nodesOf(r.cfg).map(n => {
        const e = table.get(n.address)
        const p = r.plan.find(b => b.id === n.address)
        const c = r.counters.get(n.address)
        return {
          address: n.address,
          port: n.port,
          role: e?.role ?? 'active',
          state: e?.status ?? 'unknown',
          load: e?.load ?? 0,
          weight: p?.weight ?? 0,
          weightSource: overrides.get(r.cfg.name)?.has(n.address)
            ? 'manual'
            : 'auto',
          eligible: p !== undefined && p.weight > 0,
          active: c?.active ?? 0,
          total: c?.total ?? 0,
          bytesIn: c?.bytesIn ?? 0,
          bytesOut: c?.bytesOut ?? 0,
          ...(c?.packets !== undefined ? { packets: c.packets } : {}),
          lastReportAgeMs: e ? table.ageMs(e) : null,
          ...(n.auto ? { auto: true } : {}),
          ...(p?.kept ? { kept: true } : {}),
        }
      }),
    })),
  }
}
