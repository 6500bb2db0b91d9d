// The package's Prometheus metrics, registered on one registry that the
// kit serves at /metrics.

import { Counter, Gauge, Registry } from '@has/daemon-kit'

export function createMetrics(registry = new Registry()) {
  return {
    registry,
    serverHealthy: new Gauge({
      name: 'hnm_server_healthy',
      help: '1 when the server passes its probes (RPC NULL and stat)',
      labelNames: ['mount', 'server'] as const,
      registers: [registry],
    }),
    active: new Gauge({
      name: 'hnm_active_server',
      help: '1 for the server presented at the mount point',
      labelNames: ['mount', 'server'] as const,
      registers: [registry],
    }),
    failovers: new Counter({
      name: 'hnm_failovers_total',
      help: 'Changes of the presented server (failover and failback)',
      labelNames: ['mount', 'from', 'to'] as const,
      registers: [registry],
    }),
    probeFailures: new Counter({
      name: 'hnm_probe_failures_total',
      help: 'Failed probes by kind (rpc, stat, mount)',
      labelNames: ['mount', 'server', 'probe'] as const,
      registers: [registry],
    }),
    rpcRtt: new Gauge({
      name: 'hnm_rpc_probe_seconds',
      help: 'Duration of the last RPC NULL probe',
      labelNames: ['mount', 'server'] as const,
      registers: [registry],
    }),
    swapSeconds: new Gauge({
      name: 'hnm_last_swap_seconds',
      help: 'Duration of the last mount-point swap',
      labelNames: ['mount'] as const,
      registers: [registry],
    }),
    noHealthy: new Gauge({
      name: 'hnm_no_healthy_server',
      help: '1 while no server of the mount is healthy',
      labelNames: ['mount'] as const,
      registers: [registry],
    }),
    syncRuns: new Counter({
      name: 'hnm_sync_runs_total',
      help: 'rsync runs by result (ok, failed)',
      labelNames: ['source', 'target', 'result'] as const,
      registers: [registry],
    }),
    syncLag: new Gauge({
      name: 'hnm_sync_lag_seconds',
      help: 'Oldest unsynced change age at the end of the last successful sync',
      labelNames: ['source', 'target'] as const,
      registers: [registry],
    }),
    syncPendingAge: new Gauge({
      name: 'hnm_sync_pending_seconds',
      help: 'Age of the oldest change not yet synced (0 when in sync)',
      labelNames: ['source', 'target'] as const,
      registers: [registry],
    }),
    syncFailures: new Gauge({
      name: 'hnm_sync_consecutive_failures',
      help: 'rsync failures since the last success',
      labelNames: ['source', 'target'] as const,
      registers: [registry],
    }),
    syncLastSuccess: new Gauge({
      name: 'hnm_sync_last_success_timestamp_seconds',
      help: 'Unix time of the last successful sync',
      labelNames: ['source', 'target'] as const,
      registers: [registry],
    }),
  }
}

export type HnmMetrics = ReturnType<typeof createMetrics>
