// The userspace proxy as a DataPlane (kind 'proxy'). The scheduling itself
// happens where the connections are (each process keeps its own Balancer
// with live connection counts), so ctx.pick is not consulted; the control
// plane's job is to push backend sets and weights, as for the kernel.

import type { DataPlane, DataPlaneFactory, BackendCounters } from './data-plane.js'
import type { PersistEntry } from './balancer.js'
import type { ProxyHost } from './proxy-host.js'
import { SCHEDULERS, type SchedulerName } from './schedulers.js'
import { DEFAULTS } from './config.js'
import { tmError } from './errors.js'

/** Data planes that can hold client affinity expose these (proxy does). */
export interface PersistenceCapable {
  persistList(): PersistEntry[]
  persistSet(e: PersistEntry): void
}

export type ProxyDataPlane = DataPlane &
  PersistenceCapable & {
    /** The bound listening address (`port 0` in tests picks one). */
    readonly address: string
  }

/** Builds the factory over a host (in-process or worker pool). */
export function proxyDataPlaneFactory(host: ProxyHost): DataPlaneFactory {
  return async (spec, ctx, options): Promise<ProxyDataPlane> => {
    const num = (key: string, dflt: number): number => {
      const v = options[key]
      if (v === undefined) return dflt
      const n = Number(v)
      if (!Number.isFinite(n) || n < 0) throw tmError('TM_ERR_BAD_ARGUMENT', `option ${key} "${v}"`)
      return n
    }
    const scheduler = options.scheduler ?? DEFAULTS.scheduler
    if (!(SCHEDULERS as readonly string[]).includes(scheduler)) {
      throw tmError('TM_ERR_BAD_ARGUMENT', `scheduler "${scheduler}"`)
    }
    const address = await host.add({
      name: spec.name,
      address: spec.address,
      port: spec.port,
      scheduler: scheduler as SchedulerName,
      persistentMs: num('persistent-ms', DEFAULTS.persistent),
      connectTimeoutMs: num('connect-timeout-ms', DEFAULTS.connectTimeout),
      idleTimeoutMs: num('idle-timeout-ms', DEFAULTS.idleTimeout),
    })
    ctx.logger.debug({ service: spec.name, address }, 'proxy data plane listening')
    return {
      kind: 'proxy',
      address,
      update: async backends => host.update(spec.name, backends),
      counters: (): Promise<ReadonlyMap<string, BackendCounters>> => host.counters(spec.name),
      close: () => host.remove(spec.name),
      persistList: () => host.persistList(spec.name),
      persistSet: e => host.persistSet(spec.name, e),
    }
  }
}

export function isPersistenceCapable(d: DataPlane): d is DataPlane & PersistenceCapable {
  return typeof (d as Partial<PersistenceCapable>).persistList === 'function'
}
