// Prometheus metrics. Counters are bumped by the runtime; gauges read the
// state machine's view when scraped, so /metrics and `status` agree.

import { Counter, Gauge, type Registry } from '@has/daemon-kit'
import type { Membership } from './membership.js'

export const DROP_REASONS = [
  'malformed',
  'forged',
  'replay',
  'stale',
  'unknown-node',
  'unknown-path',
] as const

export function createCounters(registry: Registry) {
  const c = {
    dropped: new Counter({
      name: 'hb_packets_dropped_total',
      help: 'Heartbeat datagrams dropped, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    sent: new Counter({
      name: 'hb_packets_sent_total',
      help: 'Heartbeat datagrams sent, by path',
      labelNames: ['path'] as const,
      registers: [registry],
    }),
    sendErrors: new Counter({
      name: 'hb_send_errors_total',
      help: 'Heartbeat sends that failed, by path',
      labelNames: ['path'] as const,
      registers: [registry],
    }),
    late: new Counter({
      name: 'hb_late_heartbeats_total',
      help: 'Times the peer was silent past warntime',
      registers: [registry],
    }),
    ops: new Counter({
      name: 'hb_resource_ops_total',
      help: 'Resource group operations, by group, op and result',
      labelNames: ['group', 'op', 'result'] as const,
      registers: [registry],
    }),
    claims: new Counter({
      name: 'hb_vip_claims_total',
      help: 'Episodes of another MAC answering a VIP while the peer was silent, by group and action (wait, yield, keep)',
      labelNames: ['group', 'action'] as const,
      registers: [registry],
    }),
    pathDown: new Counter({
      name: 'hb_path_down_total',
      help: 'Times a path went silent past deadtime',
      labelNames: ['path'] as const,
      registers: [registry],
    }),
  }
  for (const reason of DROP_REASONS) c.dropped.inc({ reason }, 0)
  return c
}

type View = ReturnType<Membership['view']>

export function registerGauges(
  registry: Registry,
  view: () => View,
  peer: string,
  clients: () => number,
): void {
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, v: View) => void,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset()
        fill(this, view())
      },
    })
  }
  gauge('hb_peer_alive', '1 while the peer is alive', ['node'], (g, v) =>
    g.set({ node: peer }, v.peerAlive ? 1 : 0),
  )
  gauge(
    'hb_path_up',
    '1 while heartbeats arrive on the path',
    ['path'],
    (g, v) => {
      for (const p of v.paths) g.set({ path: p.name }, p.up ? 1 : 0)
    },
  )
  gauge(
    'hb_path_last_seen_seconds',
    'Seconds since the last heartbeat on the path (-1: never)',
    ['path'],
    (g, v) => {
      for (const p of v.paths)
        g.set(
          { path: p.name },
          p.lastSeenMsAgo === null ? -1 : p.lastSeenMsAgo / 1000,
        )
    },
  )
  gauge(
    'hb_path_received',
    'Heartbeats accepted on the path',
    ['path'],
    (g, v) => {
      for (const p of v.paths) g.set({ path: p.name }, p.received)
    },
  )
  gauge(
    'hb_path_lost',
    'Heartbeats missing on the path (sequence gaps)',
    ['path'],
    (g, v) => {
      for (const p of v.paths) g.set({ path: p.name }, p.lost)
    },
  )
  gauge(
    'hb_group_held',
    '1 while this node runs the resource group',
    ['group'],
    (g, v) => {
      for (const x of v.groups)
        g.set({ group: x.name }, x.state === 'running' ? 1 : 0)
    },
  )
  gauge('hb_standby', '1 while this node is in standby', [], (g, v) =>
    g.set(v.standby ? 1 : 0),
  )
  gauge('hb_ping_reachable', 'Ping nodes answering', [], (g, v) =>
    g.set(v.ping.ok),
  )
  gauge('hb_event_clients', 'Connected membership event clients', [], g =>
    g.set(clients()),
  )
}
