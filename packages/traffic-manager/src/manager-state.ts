// What the parts of createTrafficManager share: the live table, the
// running services and the manual weight overrides. The composition owns
// them; metrics, the status view and the control commands read them
// through this interface, so each lives in its own file.

import type { TmConfig, ServiceConfig } from './config.js'
import type { BackendCounters, DataPlane } from './data-plane.js'
import type { LiveTable } from './live-table.js'
import type { PlannedBackend } from './plan.js'

/** One virtual service as it runs now. */
export interface Running {
  cfg: ServiceConfig
  dp?: DataPlane
  plan: PlannedBackend[]
  pushed: string
  counters: ReadonlyMap<string, BackendCounters>
}

/** A node of a service: listed in the file, or joined by itself. */
export interface ServiceNodeRef {
  address: string
  port: number
  auto?: boolean
}

export interface ManagerState {
  readonly table: LiveTable
  readonly services: ReadonlyMap<string, Running>
  /** Manual weights (control `weight`), by service then node. */
  readonly overrides: Map<string, Map<string, number>>
  /** The configuration in force (a reload replaces it). */
  config(): TmConfig
  nodesOf(s: ServiceConfig): ServiceNodeRef[]
  /** Reads the data planes' counters into each Running. */
  refreshCounters(): Promise<void>
}
