// The daemon's Prometheus metrics. Labels are bounded: interface names
// come from the config, kinds and reasons are fixed sets.

import { Counter, Registry } from '@has/daemon-kit'

export interface Metrics {
  readonly registry: Registry
  readonly raSent: Counter<'interface' | 'kind'>
  readonly rsReceived: Counter<'interface'>
  readonly rsDropped: Counter<'interface' | 'reason'>
  readonly sendErrors: Counter<'interface'>
  readonly raForeign: Counter<'interface' | 'result'>
}

export function createMetrics(registry = new Registry()): Metrics {
  return {
    registry,
    raSent: new Counter({
      name: 'radvd_lite_ra_sent_total',
      help: 'Router Advertisements sent, by kind (unsolicited, solicited, unicast, final)',
      labelNames: ['interface', 'kind'] as const,
      registers: [registry],
    }),
    rsReceived: new Counter({
      name: 'radvd_lite_rs_received_total',
      help: 'Valid Router Solicitations received',
      labelNames: ['interface'] as const,
      registers: [registry],
    }),
    rsDropped: new Counter({
      name: 'radvd_lite_rs_dropped_total',
      help: 'Router Solicitations dropped, by reason (hoplimit, malformed)',
      labelNames: ['interface', 'reason'] as const,
      registers: [registry],
    }),
    sendErrors: new Counter({
      name: 'radvd_lite_send_errors_total',
      help: 'RA sends the kernel refused',
      labelNames: ['interface'] as const,
      registers: [registry],
    }),
    raForeign: new Counter({
      name: 'radvd_lite_foreign_ra_total',
      help: 'RAs from other routers on the link, by result (consistent, inconsistent, malformed)',
      labelNames: ['interface', 'result'] as const,
      registers: [registry],
    }),
  }
}
