// Where the userspace proxy's services run: in this process (`workers 0`),
// or in a pool of worker processes (proxy-cluster.ts). The proxy data plane
// talks to either through this interface.

import type { Logger } from '@has/daemon-kit/core'
import type { Backend, BackendCounters } from './data-plane.js'
import type { PersistEntry } from './balancer.js'
import { ProxyService, type ProxySpec } from './proxy-service.js'
import { tmError } from './errors.js'

export interface ProxyHost {
  /** Starts listening; resolves to the bound address. */
  add(spec: ProxySpec): Promise<string>
  /** Changes a running service's settings; its listener stays open. */
  reconfigure(spec: ProxySpec): Promise<void>
  update(name: string, backends: readonly Backend[]): void
  counters(name: string): Promise<Map<string, BackendCounters>>
  persistList(name: string): PersistEntry[]
  persistSet(name: string, e: PersistEntry): void
  /** The affinity table's size and its LRU evictions (persist-list's view). */
  persistStats(name: string): PersistStats
  /** Stops the service: no new connections, open ones finish. */
  remove(name: string): Promise<void>
  /** Cuts connections still open (shutdown deadline passed). */
  destroyAll(): void
  close(): Promise<void>
}

export interface PersistStats {
  readonly entries: number
  readonly evictions: number
}

export class InProcessHost implements ProxyHost {
  readonly #services = new Map<string, ProxyService>()
  /** Removed services whose open connections are still finishing. */
  readonly #draining = new Set<ProxyService>()
  readonly #log: Logger

  constructor(logger: Logger) {
    this.#log = logger
  }

  async add(spec: ProxySpec): Promise<string> {
    const s = new ProxyService(spec, this.#log)
    const bound = await s.listen()
    this.#services.set(spec.name, s)
    return bound
  }

  async reconfigure(spec: ProxySpec): Promise<void> {
    this.#get(spec.name).reconfigure(spec)
  }

  persistStats(name: string): PersistStats {
    const b = this.#get(name).balancer
    return { entries: b.persistSize, evictions: b.persistEvictions }
  }

  #get(name: string): ProxyService {
    const s = this.#services.get(name)
    if (!s) throw tmError('TM_ERR_UNKNOWN_SERVICE', name)
    return s
  }

  /** The in-process service (tests read its bound port). */
  service(name: string): ProxyService | undefined {
    return this.#services.get(name)
  }

  update(name: string, backends: readonly Backend[]): void {
    this.#get(name).update(backends)
  }

  async counters(name: string): Promise<Map<string, BackendCounters>> {
    return this.#get(name).counters()
  }

  persistList(name: string): PersistEntry[] {
    return this.#get(name).balancer.persistList()
  }

  persistSet(name: string, e: PersistEntry): void {
    this.#get(name).balancer.setPersist(e.client, e.node, e.expiresAt, true)
  }

  async remove(name: string): Promise<void> {
    const s = this.#services.get(name)
    if (!s) return
    this.#services.delete(name)
    this.#draining.add(s)
    await s.close()
    this.#draining.delete(s)
  }

  destroyAll(): void {
    for (const s of this.#services.values()) s.destroyAll()
    for (const s of this.#draining) s.destroyAll()
  }

  async close(): Promise<void> {
    await Promise.all([...this.#services.keys()].map(n => this.remove(n)))
  }
}
