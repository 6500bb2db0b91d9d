// Prometheus metrics of conn-syncd (the operator's `conntrackd -s`).

import { Counter, Gauge, Registry } from '@has/daemon-kit'

export function createMetrics(registry = new Registry()) {
  return {
    registry,
    datagramsSent: new Counter({
      name: 'conn_syncd_datagrams_sent_total',
      help: 'Sync datagrams sent',
      registers: [registry],
    }),
    datagramsReceived: new Counter({
      name: 'conn_syncd_datagrams_received_total',
      help: 'Authenticated sync datagrams received',
      labelNames: ['peer'] as const,
      registers: [registry],
    }),
    lost: new Counter({
      name: 'conn_syncd_datagrams_lost_total',
      help: 'Datagrams missing in a peer sequence',
      labelNames: ['peer'] as const,
      registers: [registry],
    }),
    dropped: new Counter({
      name: 'conn_syncd_datagrams_dropped_total',
      help: 'Datagrams dropped (malformed, bad HMAC, replayed)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    records: new Counter({
      name: 'conn_syncd_records_total',
      help: 'Records sent and received by kind',
      labelNames: ['direction', 'kind'] as const,
      registers: [registry],
    }),
    resyncs: new Counter({
      name: 'conn_syncd_resyncs_total',
      help: 'Full resyncs requested and served',
      labelNames: ['direction'] as const,
      registers: [registry],
    }),
    kernelOps: new Counter({
      name: 'conn_syncd_kernel_ops_total',
      help: 'conntrack insert/refresh/delete by result',
      labelNames: ['op', 'result'] as const,
      registers: [registry],
    }),
    held: new Gauge({
      name: 'conn_syncd_entries',
      help: 'Entries held per peer',
      labelNames: ['peer'] as const,
      registers: [registry],
    }),
    kernelPending: new Gauge({
      name: 'conn_syncd_kernel_pending',
      help: 'Kernel changes queued or running (batched conntrack -R)',
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'conn_syncd_ready',
      help: '1 when every peer table has arrived and is in the kernel',
      registers: [registry],
    }),
    local: new Gauge({
      name: 'conn_syncd_local_flows',
      help: 'Flows this master handles and sends',
      registers: [registry],
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
