// The userspace proxy as a DataPlane (kind 'proxy'). The scheduling itself
// happens where the connections are (each process keeps its own Balancer
// with live connection counts), so ctx.pick is not consulted; the control
// plane's job is to push backend sets and weights, as for the kernel.

import type {
  DataPlane,
  DataPlaneFactory,
  BackendCounters,
  VirtualServiceSpec,
} from './data-plane.js'
import { PERSIST_MAX_DEFAULT, type PersistEntry } from './balancer.js'
import type { ProxyHost, PersistStats } from './proxy-host.js'
import type { ProxySpec } from './proxy-service.js'
import { SCHEDULERS, type SchedulerName } from './schedulers.js'
import { DEFAULTS } from './config.js'
import { tmError } from './errors.js'

/** Data planes that can hold client affinity expose these (proxy does). */
export interface PersistenceCapable {
  persistList(): PersistEntry[]
  persistSet(e: PersistEntry): void
  persistStats(): PersistStats
}

export type ProxyDataPlane = DataPlane &
  PersistenceCapable & {
    /** The bound listening address (`port 0` in tests picks one). */
    readonly address: string
  }

/** Builds the factory over a host (in-process or worker pool). */
export function proxyDataPlaneFactory(host: ProxyHost): DataPlaneFactory {
  return async (spec, ctx, options): Promise<ProxyDataPlane> => {
    const address = await host.add(proxySpec(spec, options))
    ctx.logger.debug(
      { service: spec.name, address },
      'proxy data plane listening',
    )
    return {
      kind: 'proxy',
      address,
      // Same listener, new settings: a reload that changes only these
      // never closes and reopens the socket.
      reconfigure: o => host.reconfigure(proxySpec(spec, o)),
      persistStats: () => host.persistStats(spec.name),
      update: async backends => host.update(spec.name, backends),
      counters: (): Promise<ReadonlyMap<string, BackendCounters>> =>
        host.counters(spec.name),
      close: () => host.remove(spec.name),
      persistList: () => host.persistList(spec.name),
      persistSet: e => host.persistSet(spec.name, e),
    }
  }
}

function proxySpec(
  spec: VirtualServiceSpec,
  options: Readonly<Record<string, string>>,
): ProxySpec {
  const num = (key: string, dflt: number): number => {
    const v = options[key]
    if (v === undefined) return dflt
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0)
      throw tmError('TM_ERR_BAD_ARGUMENT', `option ${key} "${v}"`)
    return n
  }
  const scheduler = options.scheduler ?? DEFAULTS.scheduler
  if (!(SCHEDULERS as readonly string[]).includes(scheduler)) {
    throw tmError('TM_ERR_BAD_ARGUMENT', `scheduler "${scheduler}"`)
  }
  return {
    name: spec.name,
    address: spec.address,
    port: spec.port,
    scheduler: scheduler as SchedulerName,
    persistentMs: num('persistent-ms', DEFAULTS.persistent),
    connectTimeoutMs: num('connect-timeout-ms', DEFAULTS.connectTimeout),
    idleTimeoutMs: num('idle-timeout-ms', DEFAULTS.idleTimeout),
    persistMax: num('persistent-max', PERSIST_MAX_DEFAULT),
    persistV4Prefix: num('persistent-v4-prefix', 32),
    persistV6Prefix: num('persistent-v6-prefix', 128),
    // Set by the control plane when the service manager passed a socket for this address.
    ...(options['inherited-fd'] !== undefined
      ? { fd: num('inherited-fd', -1) }
      : {}),
  }
}

export function isPersistenceCapable(
  d: DataPlane,
): d is DataPlane & PersistenceCapable {
  return typeof (d as Partial<PersistenceCapable>).persistList === 'function'
}
