// Prometheus metrics. Labels are bounded: states and reasons are fixed
// sets, protocols come from the config.

import { Counter, Gauge, Registry } from '@has/daemon-kit'

export interface Metrics {
  readonly registry: Registry
  readonly announced: Gauge
  readonly transitions: Counter<'to' | 'reason'>
  readonly probes: Counter<'result'>
  readonly birdCommands: Counter<'command' | 'result'>
  readonly withdrawSeconds: Gauge
}

export function createMetrics(registry = new Registry()): Metrics {
  return {
    registry,
    announced: new Gauge({
      name: 'va_announced',
      help: '1 while the VIP routes are announced (BIRD protocols enabled), else 0',
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'va_transitions_total',
      help: 'State changes, by new state and reason',
      labelNames: ['to', 'reason'] as const,
      registers: [registry],
    }),
    probes: new Counter({
      name: 'va_probes_total',
      help: 'Health probes of traffic-manager, by result (ok or the failure reason)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    birdCommands: new Counter({
      name: 'va_bird_commands_total',
      help: 'Commands sent to BIRD, by command (enable, disable, show) and result (changed, unchanged, error)',
      labelNames: ['command', 'result'] as const,
      registers: [registry],
    }),
    withdrawSeconds: new Gauge({
      name: 'va_last_withdraw_seconds',
      help: 'Time from the failure being seen to BIRD confirming the last withdrawal',
      registers: [registry],
    }),
  }
}
