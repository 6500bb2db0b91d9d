// traffic-client's Prometheus metrics (README "Metrics"): reports sent and
// failed per master, /proc read errors, agent-check answers, and the last
// load index, spare share and flag.

import { Counter, Gauge, type Registry } from '@has/daemon-kit'

export function createClientMetrics(registry: Registry) {
  const sent = new Counter({
    name: 'tc_reports_sent_total',
    help: 'LOAD datagrams sent, by master',
    labelNames: ['master'] as const,
    registers: [registry],
  })
  const sendErrors = new Counter({
    name: 'tc_report_send_errors_total',
    help: 'LOAD datagrams that failed to send, by master',
    labelNames: ['master'] as const,
    registers: [registry],
  })
  const procErrors = new Counter({
    name: 'tc_procfs_errors_total',
    help: 'Rounds skipped because /proc could not be read or parsed',
    registers: [registry],
  })
  const agentAnswers = new Counter({
    name: 'tc_agent_checks_total',
    help: 'HAProxy agent-check connections answered',
    registers: [registry],
  })
  const loadGauge = new Gauge({
    name: 'tc_load_index',
    help: 'Last computed load index',
    registers: [registry],
  })
  const percentGauge = new Gauge({
    name: 'tc_load_percent',
    help: 'Last computed spare share of this node, 0..100',
    registers: [registry],
  })
  const flagGauge = new Gauge({
    name: 'tc_flag',
    help: '1 for the current load-report flag',
    labelNames: ['flag'] as const,
    registers: [registry],
  })
  return {
    sent,
    sendErrors,
    procErrors,
    agentAnswers,
    loadGauge,
    percentGauge,
    flagGauge,
  }
}

export type ClientMetrics = ReturnType<typeof createClientMetrics>
