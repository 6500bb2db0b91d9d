// The failurecount rule, pure: a real server goes down after `failurecount`
// consecutive failed checks and comes back up on the first success. A
// maintenance file forces it down at once. Time comes in as `now`.

import type { CheckResult } from './checks.js'

export type RealStatus = 'unknown' | 'up' | 'down'

export interface HealthState {
  readonly status: RealStatus
  /** Consecutive failures so far (0 after a success). */
  readonly failures: number
  readonly last?: CheckResult
  readonly lastCheckAt?: number
  /** When the status last changed. */
  readonly since?: number
}

export const INITIAL: HealthState = Object.freeze({
  status: 'unknown',
  failures: 0,
})

export interface Step {
  readonly state: HealthState
  /** Set when this result changed the status. */
  readonly changed?: 'up' | 'down'
}

export function applyResult(
  prev: HealthState,
  result: CheckResult,
  failurecount: number,
  now: number,
  force = false,
): Step {
  if (result.ok) {
    const state = {
      status: 'up' as const,
      failures: 0,
      last: result,
      lastCheckAt: now,
      since: prev.status === 'up' ? (prev.since ?? now) : now,
    }
    return prev.status === 'up' ? { state } : { state, changed: 'up' }
  }
  const failures = prev.failures + 1
  const down = force || failures >= failurecount
  if (!down || prev.status === 'down') {
    return { state: { ...prev, failures, last: result, lastCheckAt: now } }
  }
  return {
    state: {
      status: 'down',
      failures,
      last: result,
      lastCheckAt: now,
      since: now,
    },
    changed: 'down',
  }
}
