// The proxy's worker pool: N processes accept on the same listening sockets
// (node:cluster; Node 20's net has no SO_REUSEPORT) so the relay uses every
// core, while this process keeps the control plane. Workers get every
// service and backend change by IPC and answer counter queries; affinity
// entries a worker creates are relayed to its siblings. A worker that dies
// is replaced and replayed the current state.

import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { Logger } from '@has/daemon-kit/core'
import type { Backend, BackendCounters } from './data-plane.js'
import type { PersistEntry } from './balancer.js'
import type { ProxySpec } from './proxy-service.js'
import type { ProxyHost, PersistStats } from './proxy-host.js'
import type { FromWorker, ToWorker } from './proxy-ipc.js'
import { PERSIST_MAX_DEFAULT } from './balancer.js'
import { affinityKey } from './affinity-key.js'
import { tmError } from './errors.js'

interface Pending {
  waiting: Set<Worker>
  resolve: () => void
  errors: string[]
  address?: string
  counters?: Map<string, Map<string, BackendCounters>>
}

export interface ClusterHostOptions {
  workers: number
  logger: Logger
  logLevel?: string
  /** Inherited listening fds (socket activation): each worker gets its own copy at the same number. */
  inheritedFds?: readonly number[]
  /** Reply budget for counter queries (ms). */
  queryTimeoutMs?: number
}

export class ClusterHost implements ProxyHost {
  readonly #log: Logger
  /** Workers that have every service: requests and updates go to these. */
  readonly #workers = new Set<Worker>()
  /** Every forked worker, joined or still starting (for close). */
  readonly #all = new Set<Worker>()
  /** add/remove/reconfigure and a worker's join run one at a time. */
  #serial: Promise<unknown> = Promise.resolve()
  readonly #specs = new Map<string, ProxySpec>()
  readonly #backends = new Map<string, readonly Backend[]>()
  // Per service, in recency order (LRU first), capped like the workers' tables.
  readonly #persist = new Map<string, Map<string, PersistEntry>>()
  readonly #evictions = new Map<string, number>()
  readonly #pending = new Map<number, Pending>()
  readonly #opts: ClusterHostOptions
  #nextId = 1
  #stopping = false

  private constructor(opts: ClusterHostOptions) {
    this.#opts = opts
    this.#log = opts.logger
  }

  static async start(opts: ClusterHostOptions): Promise<ClusterHost> {
    const host = new ClusterHost(opts)
    // Kernel-balanced accept (workers share the socket): the primary does
    // not touch each connection, unlike cluster's round-robin handoff.
    if (process.env.TM_CLUSTER_SCHED !== 'rr')
      cluster.schedulingPolicy = cluster.SCHED_NONE
    cluster.setupPrimary({
      exec: fileURLToPath(new URL('./proxy-worker.js', import.meta.url)),
      args: [],
      silent: false,
      ...(opts.inheritedFds?.length
        ? { stdio: workerStdio(opts.inheritedFds) }
        : {}),
    })
    // Serve as soon as one worker is up (issue 18.12: on a loaded machine
    // waiting for all of them delayed the VIP by seconds); the others join
    // when ready and are given every service then.
    const joins = Array.from({ length: opts.workers }, () =>
      host.#fork().then(w => host.#join(w)),
    )
    await Promise.any(joins).catch(async (e: AggregateError) => {
      await host.close()
      throw e.errors[0]
    })
    for (const j of joins)
      j.catch((err: unknown) =>
        host.#log.error({ err }, 'proxy worker failed to start'),
      )
    return host
  }

  #queue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn)
    this.#serial = run.catch(() => {})
    return run
  }

  /** A ready worker gets every service and backend set, then requests. */
  #join(w: Worker): Promise<void> {
    return this.#queue(async () => {
      if (this.#stopping || !w.isConnected()) return
      for (const spec of this.#specs.values()) {
        const { errors } = await this.#request([w], id => ({
          t: 'add',
          id,
          spec,
        }))
        if (errors.length) {
          // Left out of the pool: the other workers serve.
          const err = tmError(
            'TM_ERR_WORKER',
            `pid ${w.process.pid} cannot listen for ${spec.name}: ${errors[0]}`,
          )
          this.#log.error(
            { err, code: err.code },
            'proxy worker left out of the pool',
          )
          return
        }
      }
      // No await from here on: no update can slip between.
      for (const spec of this.#specs.values()) {
        const b = this.#backends.get(spec.name)
        if (b) this.#send(w, { t: 'update', name: spec.name, backends: b })
        for (const entry of this.persistList(spec.name))
          this.#send(w, { t: 'persist', name: spec.name, entry })
      }
      this.#workers.add(w)
    })
  }

  #fork(): Promise<Worker> {
    const w = cluster.fork({
      TM_LOG_LEVEL: this.#opts.logLevel ?? 'info',
      TM_WORKER_ID: String(this.#nextId++),
    })
    this.#all.add(w)
    w.on('message', (m: FromWorker) => this.#onMessage(w, m))
    w.on('exit', (code, signal) => {
      this.#workers.delete(w)
      this.#all.delete(w)
      for (const [id, p] of this.#pending)
        if (p.waiting.delete(w)) this.#settle(id, p)
      if (this.#stopping) return
      const err = tmError(
        'TM_ERR_WORKER',
        `pid ${w.process.pid} exited (${signal ?? code})`,
      )
      this.#log.error(
        { err, code: err.code },
        'proxy worker died; starting another',
      )
      void this.#fork().then(
        nw => this.#join(nw),
        (err: unknown) =>
          this.#log.error({ err }, 'cannot replace proxy worker'),
      )
    })
    return new Promise((resolve, reject) => {
      w.once('error', reject)
      const onReady = (m: FromWorker): void => {
        if (m.t === 'ready') {
          w.off('message', onReady)
          resolve(w)
        }
      }
      w.on('message', onReady)
    })
  }

  #send(w: Worker, m: ToWorker): void {
    if (w.isConnected()) w.send(m)
  }

  #onMessage(w: Worker, m: FromWorker): void {
    switch (m.t) {
      case 'reply': {
        const p = this.#pending.get(m.id)
        if (!p) return
        if (m.error) p.errors.push(m.error)
        if (m.address) p.address = m.address
        p.waiting.delete(w)
        this.#settle(m.id, p)
        return
      }
      case 'counters': {
        const p = this.#pending.get(m.id)
        if (!p) return
        for (const [name, rows] of Object.entries(m.data)) {
          let acc = p.counters?.get(name)
          if (!acc) {
            acc = new Map()
            p.counters?.set(name, acc)
          }
          for (const [id, c] of rows) acc.set(id, sum(acc.get(id), c))
        }
        p.waiting.delete(w)
        this.#settle(m.id, p)
        return
      }
      case 'persist':
        this.#remember(m.name, m.entry)
        for (const other of this.#workers) if (other !== w) this.#send(other, m)
        return
      case 'ready':
        return
    }
  }

  #settle(id: number, p: Pending): void {
    if (p.waiting.size > 0) return
    this.#pending.delete(id)
    p.resolve()
  }

  /** Sends a request to each worker and waits for all replies. */
  #request(
    to: Iterable<Worker>,
    make: (id: number) => ToWorker,
    timeoutMs?: number,
    counters?: Map<string, Map<string, BackendCounters>>,
  ): Promise<{ errors: string[]; address?: string }> {
    const id = this.#nextId++
    const waiting = new Set(to)
    return new Promise(resolve => {
      let timer: NodeJS.Timeout | undefined
      const p: Pending = {
        waiting,
        errors: [],
        resolve: () => {
          clearTimeout(timer)
          resolve(
            p.address === undefined
              ? { errors: p.errors }
              : { errors: p.errors, address: p.address },
          )
        },
        ...(counters ? { counters } : {}),
      }
      this.#pending.set(id, p)
      for (const w of waiting) this.#send(w, make(id))
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          p.waiting.clear()
          this.#settle(id, p)
        }, timeoutMs)
      }
      this.#settle(id, p)
    })
  }

  add(spec: ProxySpec): Promise<string> {
    return this.#queue(() => this.#add(spec))
  }

  async #add(spec: ProxySpec): Promise<string> {
    const { errors, address } = await this.#request(this.#workers, id => ({
      t: 'add',
      id,
      spec,
    }))
    if (errors.length) {
      await this.#request(this.#workers, id => ({
        t: 'remove',
        id,
        name: spec.name,
      }))
      throw tmError('TM_ERR_LISTEN', spec.name, errors[0])
    }
    // Keep the port as asked (0 too): cluster shares one listening handle
    // per asked address, so a joining worker that asks for the same gets
    // the same socket; asking for the bound port would try a second bind
    // (EADDRINUSE).
    this.#specs.set(spec.name, spec)
    return address ?? `${spec.address}:${spec.port}`
  }

  reconfigure(spec: ProxySpec): Promise<void> {
    return this.#queue(() => this.#reconfigure(spec))
  }

  async #reconfigure(spec: ProxySpec): Promise<void> {
    const cur = this.#specs.get(spec.name)
    if (!cur) throw tmError('TM_ERR_UNKNOWN_SERVICE', spec.name)
    const next = { ...spec, port: cur.port }
    const { errors } = await this.#request(this.#workers, id => ({
      t: 'reconfigure',
      id,
      spec: next,
    }))
    if (errors.length)
      throw tmError('TM_ERR_WORKER', `reconfigure ${spec.name}: ${errors[0]}`)
    this.#specs.set(spec.name, next)
    const g = (s: ProxySpec): string =>
      `${s.persistentMs > 0} ${s.persistV4Prefix ?? 32} ${s.persistV6Prefix ?? 128}`
    if (g(cur) !== g(next)) this.#persist.delete(spec.name)
    else this.#trim(spec.name)
  }

  update(name: string, backends: readonly Backend[]): void {
    this.#backends.set(name, backends)
    for (const w of this.#workers)
      this.#send(w, { t: 'update', name, backends })
  }

  async counters(name: string): Promise<Map<string, BackendCounters>> {
    const acc = new Map<string, Map<string, BackendCounters>>()
    await this.#request(
      this.#workers,
      id => ({ t: 'counters', id }),
      this.#opts.queryTimeoutMs ?? 1000,
      acc,
    )
    return acc.get(name) ?? new Map()
  }

  #remember(name: string, e: PersistEntry, replace = false): void {
    let m = this.#persist.get(name)
    if (!m) {
      m = new Map()
      this.#persist.set(name, m)
    }
    const cur = m.get(e.client)
    if (replace || !cur || cur.expiresAt <= e.expiresAt) {
      m.delete(e.client)
      m.set(e.client, e)
      this.#trim(name)
    }
  }

  #trim(name: string): void {
    const m = this.#persist.get(name)
    if (!m) return
    const max = this.#specs.get(name)?.persistMax ?? PERSIST_MAX_DEFAULT
    for (const k of m.keys()) {
      if (m.size <= max) break
      m.delete(k)
      this.#evictions.set(name, (this.#evictions.get(name) ?? 0) + 1)
    }
  }

  persistStats(name: string): PersistStats {
    return {
      entries: this.#persist.get(name)?.size ?? 0,
      evictions: this.#evictions.get(name) ?? 0,
    }
  }

  persistList(name: string): PersistEntry[] {
    const m = this.#persist.get(name)
    if (!m) return []
    const now = Date.now()
    for (const [c, e] of m) if (e.expiresAt <= now) m.delete(c)
    return [...m.values()]
  }

  persistSet(name: string, raw: PersistEntry): void {
    const spec = this.#specs.get(name)
    const client = spec
      ? affinityKey(raw.client, {
          v4Prefix: spec.persistV4Prefix ?? 32,
          v6Prefix: spec.persistV6Prefix ?? 128,
        })
      : raw.client
    const entry = { ...raw, client }
    this.#remember(name, entry, true)
    for (const w of this.#workers)
      this.#send(w, { t: 'persist', name, entry, replace: true })
  }

  remove(name: string): Promise<void> {
    return this.#queue(() => this.#remove(name))
  }

  async #remove(name: string): Promise<void> {
    this.#specs.delete(name)
    this.#backends.delete(name)
    this.#persist.delete(name)
    this.#evictions.delete(name)
    await this.#request(this.#workers, id => ({ t: 'remove', id, name }))
  }

  destroyAll(): void {
    for (const w of this.#all) this.#send(w, { t: 'destroy' })
  }

  async close(): Promise<void> {
    await Promise.all([...this.#specs.keys()].map(n => this.remove(n)))
    this.#stopping = true
    await Promise.all(
      [...this.#all].map(
        w =>
          new Promise<void>(resolve => {
            if (w.isDead()) return resolve()
            w.once('exit', () => resolve())
            if (w.isConnected()) w.disconnect()
            else w.process.kill()
          }),
      ),
    )
  }

  get size(): number {
    return this.#workers.size
  }
}

function sum(
  a: BackendCounters | undefined,
  b: BackendCounters,
): BackendCounters {
  if (!a) return b
  return {
    active: a.active + b.active,
    total: a.total + b.total,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
  }
}

/** stdio for fork: fds 0-2 shared, each inherited fd at its own number, then IPC. */
function workerStdio(
  fds: readonly number[],
): ('inherit' | 'ignore' | 'ipc' | number)[] {
  const out: ('inherit' | 'ignore' | 'ipc' | number)[] = [
    'inherit',
    'inherit',
    'inherit',
  ]
  const top = Math.max(...fds)
  for (let fd = 3; fd <= top; fd++) out.push(fds.includes(fd) ? fd : 'ignore')
  out.push('ipc')
  return out
}
