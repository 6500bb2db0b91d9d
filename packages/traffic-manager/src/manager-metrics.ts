// traffic-manager's own Prometheus metrics (README "Metrics"): report
// counters, autojoin and replay-state events, per-node load and per-backend
// weights and counters. Every metric reads the state when scraped, so
// nothing here runs between scrapes, and this module (with prom-client) is
// loaded only once the services serve (issue 18.12).

import { Counter, Gauge, Registry } from '@has/daemon-kit/metrics'
import { DROP_REASONS } from './live-table.js'
import { failStatic } from './plan.js'
import { isPersistenceCapable } from './proxy-data-plane.js'
import type { PersistStats } from './proxy-host.js'
import type { ManagerState, Running } from './manager-state.js'

export function createManagerMetrics(state: ManagerState): Registry {
  const registry = new Registry()
  // The live table counts reports from the start, before this exists.
  new Counter({
    name: 'tm_reports_accepted_total',
    help: 'Load reports accepted',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(state.table.accepted)
    },
  })
  new Counter({
    name: 'tm_reports_dropped_total',
    help: 'Load reports dropped, by reason (error code)',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const reason of DROP_REASONS)
        this.inc({ reason }, state.table.drops[reason])
    },
  })
  new Counter({
    name: 'tm_autojoin_total',
    help: 'Unlisted nodes that joined by themselves (autojoin), left on timeout, or were refused (source, MAC, autojoin-max)',
    labelNames: ['event'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [event, n] of Object.entries(state.table.autojoinEvents))
        this.inc({ event }, n)
    },
  })
  new Counter({
    name: 'tm_replay_state_evictions_total',
    help: 'Replay-window entries (one per sender and node) dropped to stay under the cap',
    registers: [registry],
    collect() {
      this.reset()
      this.inc(state.table.replayEvictions)
    },
  })
  const perService = (
    name: string,
    help: string,
    pick: (s: PersistStats) => number,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: ['service'] as const,
      registers: [registry],
      collect() {
        this.reset()
        for (const r of state.services.values()) {
          if (r.dp && isPersistenceCapable(r.dp) && r.cfg.persistentMs > 0)
            this.set({ service: r.cfg.name }, pick(r.dp.persistStats()))
        }
      },
    })
  }
  perService(
    'tm_persist_entries',
    'Client affinity entries held',
    p => p.entries,
  )
  // A counter (it only grows), set from the data plane's running total at
  // each scrape, as tm_replay_state_evictions_total is.
  new Counter({
    name: 'tm_persist_evictions_total',
    help: 'Client affinity entries evicted (least recently used) because the table was full',
    labelNames: ['service'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const r of state.services.values()) {
        if (r.dp && isPersistenceCapable(r.dp) && r.cfg.persistentMs > 0)
          this.inc({ service: r.cfg.name }, r.dp.persistStats().evictions)
      }
    },
  })
  new Gauge({
    name: 'tm_node_up',
    help: '1 while the node reports up or drain within timeout',
    labelNames: ['node'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const e of state.table.entries())
        this.set(
          { node: e.address },
          e.status === 'up' || e.status === 'drain' ? 1 : 0,
        )
    },
  })
  new Gauge({
    name: 'tm_service_fail_static',
    help: '1 while every serving node of the service is silent and kept in (fail-static)',
    labelNames: ['service'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const r of state.services.values())
        this.set({ service: r.cfg.name }, failStatic(r.plan) ? 1 : 0)
    },
  })
  new Gauge({
    name: 'tm_node_load_index',
    help: 'Last reported load index',
    labelNames: ['node'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const e of state.table.entries())
        this.set({ node: e.address }, e.load)
    },
  })
  // `pick` returns undefined where the data plane does not count it (no series).
  const perBackend = (
    name: string,
    help: string,
    pick: (r: Running, b: string) => number | undefined,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames: ['service', 'node'] as const,
      registers: [registry],
      async collect() {
        await state.refreshCounters()
        this.reset()
        for (const r of state.services.values()) {
          for (const n of state.nodesOf(r.cfg)) {
            const v = pick(r, n.address)
            if (v !== undefined)
              this.set({ service: r.cfg.name, node: n.address }, v)
          }
        }
      },
    })
  }
  perBackend(
    'tm_backend_weight',
    'Current scheduler weight (0 = quiesced or out)',
    (r, b) => r.plan.find(p => p.id === b)?.weight ?? 0,
  )
  perBackend(
    'tm_backend_active_connections',
    'Connections open now',
    (r, b) => r.counters.get(b)?.active ?? 0,
  )
  perBackend(
    'tm_backend_connections_total',
    'Connections since start (monotonic)',
    (r, b) => r.counters.get(b)?.total ?? 0,
  )
  perBackend(
    'tm_backend_bytes_in_total',
    'Bytes from clients to the node since start (monotonic)',
    (r, b) => r.counters.get(b)?.bytesIn ?? 0,
  )
  perBackend(
    'tm_backend_bytes_out_total',
    'Bytes from the node to clients through this host since start (0 for direct routing: replies bypass it)',
    (r, b) => r.counters.get(b)?.bytesOut ?? 0,
  )
  // Kernel data planes only: the proxy counts no packets.
  perBackend(
    'tm_backend_packets_total',
    "Packets of the node's connections through this host since start, from kernel counters (monotonic; both directions for nftables, client to node only for nftables-dr)",
    (r, b) => r.counters.get(b)?.packets,
  )
  return registry
}
