// Messages between the primary (control plane) and proxy worker processes
// over the cluster IPC channel. Plain JSON-able objects; `id` pairs a
// request with its reply.

import type { Backend, BackendCounters } from './data-plane.js'
import type { PersistEntry } from './balancer.js'
import type { ProxySpec } from './proxy-service.js'

export type ToWorker =
  | { t: 'add'; id: number; spec: ProxySpec }
  | { t: 'reconfigure'; id: number; spec: ProxySpec }
  | { t: 'update'; name: string; backends: readonly Backend[] }
  | { t: 'remove'; id: number; name: string }
  | { t: 'persist'; name: string; entry: PersistEntry; replace?: boolean }
  | { t: 'counters'; id: number }
  | { t: 'destroy' }

export type FromWorker =
  | { t: 'ready' }
  | { t: 'reply'; id: number; error?: string; address?: string }
  | {
      t: 'counters'
      id: number
      data: Record<string, [string, BackendCounters][]>
    }
  | { t: 'persist'; name: string; entry: PersistEntry }
