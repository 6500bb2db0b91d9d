// erd's Prometheus metrics (served by the kit's /metrics listener).

import { Counter, Gauge, Histogram, Registry } from '@has/daemon-kit'

export function createMetrics(registry = new Registry()) {
  return {
    registry,
    active: new Gauge({
      name: 'erd_active_link',
      help: '1 for the link carrying traffic (primary, secondary or none)',
      labelNames: ['link'] as const,
      registers: [registry],
    }),
    usable: new Gauge({
      name: 'erd_link_usable',
      help: '1 when the link is up past its updelay',
      labelNames: ['link'] as const,
      registers: [registry],
    }),
    switches: new Counter({
      name: 'erd_switches_total',
      help: 'Changes of the active link, by new link',
      labelNames: ['to'] as const,
      registers: [registry],
    }),
    switchSeconds: new Histogram({
      name: 'erd_switch_seconds',
      help: 'From the link event to the routes changed',
      buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
      registers: [registry],
    }),
    linkEvents: new Counter({
      name: 'erd_link_events_total',
      help: 'Carrier changes seen, by source (monitor or poll)',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    routeChanges: new Counter({
      name: 'erd_route_changes_total',
      help: 'Route changes sent to the kernel, by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    announcements: new Counter({
      name: 'erd_announcements_total',
      help: 'Announcement commands run (gratuitous ARP per IPv4 address, one unsolicited-NA round for the IPv6 addresses, or NS per neighbour without perl), by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    monitorRestarts: new Counter({
      name: 'erd_monitor_restarts_total',
      help: 'Restarts of the ip monitor process',
      registers: [registry],
    }),
  }
}

export type ErdMetrics = ReturnType<typeof createMetrics>
