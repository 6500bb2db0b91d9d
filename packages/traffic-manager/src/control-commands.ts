// The control commands of traffic-manager (PROTOCOL.md "Control"):
// status, health, weight, persist-list, persist-set. Each checks its
// arguments against the running services before it changes anything.

import { isIP } from 'node:net'
import {
  parseIntRange,
  type ControlHandlers,
  type Logger,
} from '@has/daemon-kit/core'
import { tmError } from './errors.js'
import { isPersistenceCapable } from './proxy-data-plane.js'
import { MAX_WEIGHT } from './weights.js'
import type { ManagerState, Running } from './manager-state.js'
import type { StatusSnapshot } from './status-view.js'

export interface ControlDeps {
  readonly log: Logger
  /** Status with fresh data-plane counters. */
  snapshot(): Promise<StatusSnapshot>
  /** Applies table changes whose recompute is still queued. */
  recompute(): void
  /** Pushes a service's backend set to its data plane now. */
  push(r: Running): void
}

export function controlCommands(
  state: ManagerState,
  deps: ControlDeps,
): ControlHandlers {
  const serviceArg = (name: string | undefined): Running => {
    const r = name === undefined ? undefined : state.services.get(name)
    if (!r) throw tmError('TM_ERR_UNKNOWN_SERVICE', name ?? '')
    return r
  }
  return {
    status: () => deps.snapshot(),
    // Cheap liveness for vip-announcer's frequent polls: the services'
    // plans only, no status view and no data-plane counter read.
    health: () => {
      deps.recompute()
      return {
        services: [...state.services.values()].map(r => {
          const up = new Set(r.plan.filter(p => p.weight > 0).map(p => p.id))
          return {
            name: r.cfg.name,
            dataplane: r.cfg.dataplane,
            running: r.dp !== undefined,
            eligible: state.nodesOf(r.cfg).filter(n => up.has(n.address))
              .length,
          }
        }),
      }
    },
    weight: args => {
      if (args.length !== 3)
        throw tmError(
          'TM_ERR_BAD_ARGUMENT',
          'usage: weight <service> <node> <0..256|auto>',
        )
      const [name, node = '', value = ''] = args
      const r = serviceArg(name)
      if (!state.nodesOf(r.cfg).some(n => n.address === node))
        throw tmError('TM_ERR_UNKNOWN_NODE', node, r.cfg.name)
      let m = state.overrides.get(r.cfg.name)
      if (value === 'auto') m?.delete(node)
      else {
        const w = parseIntRange(value, 0, MAX_WEIGHT)
        if (w === undefined)
          throw tmError(
            'TM_ERR_BAD_ARGUMENT',
            `weight "${value}": expected 0..${MAX_WEIGHT} or auto`,
          )
        if (!m) state.overrides.set(r.cfg.name, (m = new Map()))
        m.set(node, w)
      }
      deps.log.info(
        { service: r.cfg.name, node, weight: value },
        'weight override',
      )
      deps.push(r)
      const p = r.plan.find(b => b.id === node)
      return {
        service: r.cfg.name,
        node,
        weight: p?.weight ?? 0,
        source: value === 'auto' ? 'auto' : 'manual',
      }
    },
    'persist-list': args => {
      if (args.length > 1)
        throw tmError('TM_ERR_BAD_ARGUMENT', 'usage: persist-list [service]')
      const list = args.length
        ? [serviceArg(args[0])]
        : [...state.services.values()]
      // Affinity expiry is in the data plane's time (wall clock).
      const t = Date.now()
      const out: {
        service: string
        client: string
        node: string
        expiresInMs: number
      }[] = []
      for (const r of list) {
        if (!r.dp || !isPersistenceCapable(r.dp)) {
          if (args.length)
            throw tmError(
              'TM_ERR_NOT_SUPPORTED',
              `data plane ${r.cfg.dataplane} keeps no affinity table`,
            )
          continue
        }
        for (const e of r.dp.persistList()) {
          out.push({
            service: r.cfg.name,
            client: e.client,
            node: e.node,
            expiresInMs: Math.max(0, e.expiresAt - t),
          })
        }
      }
      return out
    },
    'persist-set': args => {
      if (args.length !== 4)
        throw tmError(
          'TM_ERR_BAD_ARGUMENT',
          'usage: persist-set <service> <client-ip> <node> <ttl-seconds>',
        )
      const [name, client = '', node = '', ttl = ''] = args
      const r = serviceArg(name)
      if (isIP(client) === 0)
        throw tmError(
          'TM_ERR_BAD_ARGUMENT',
          `client "${client}" is not an IP address`,
        )
      if (!state.nodesOf(r.cfg).some(n => n.address === node))
        throw tmError('TM_ERR_UNKNOWN_NODE', node, r.cfg.name)
      const secs = parseIntRange(ttl, 0, 86_400)
      if (secs === undefined)
        throw tmError(
          'TM_ERR_BAD_ARGUMENT',
          `ttl "${ttl}": expected 0..86400 seconds`,
        )
      if (!r.dp || !isPersistenceCapable(r.dp))
        throw tmError(
          'TM_ERR_NOT_SUPPORTED',
          `data plane ${r.cfg.dataplane} keeps no affinity table`,
        )
      r.dp.persistSet({ client, node, expiresAt: Date.now() + secs * 1000 })
      return { service: r.cfg.name, client, node, expiresInMs: secs * 1000 }
    },
  }
}
