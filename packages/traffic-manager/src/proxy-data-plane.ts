// The userspace proxy as a DataPlane (kind 'proxy'). The scheduling itself
// happens where the connections are (each process keeps its own Balancer
// with live connection counts); the control plane's job is to push backend
// sets and weights, as for the kernel, and the typed DataPlaneOptions.

import type {
  DataPlane,
  DataPlaneFactory,
  DataPlaneOptions,
  BackendCounters,
  VirtualServiceSpec,
} from './data-plane.js'
import type { PersistEntry } from './balancer.js'
import type { ProxyHost, PersistStats } from './proxy-host.js'
import type { ProxySpec } from './proxy-service.js'

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

function proxySpec(spec: VirtualServiceSpec, o: DataPlaneOptions): ProxySpec {
  return {
    name: spec.name,
    address: spec.address,
    port: spec.port,
    scheduler: o.scheduler,
    persistentMs: o.persistentMs,
    connectTimeoutMs: o.connectTimeoutMs,
    idleTimeoutMs: o.idleTimeoutMs,
    persistMax: o.persistentMax,
    persistV4Prefix: o.persistentV4Prefix,
    persistV6Prefix: o.persistentV6Prefix,
    // Set by the control plane when the service manager passed a socket for this address.
    ...(o.inheritedFd !== undefined ? { fd: o.inheritedFd } : {}),
  }
}

export function isPersistenceCapable(
  d: DataPlane,
): d is DataPlane & PersistenceCapable {
  return typeof (d as Partial<PersistenceCapable>).persistList === 'function'
}
