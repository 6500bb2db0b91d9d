// CPU priority, as conntrackd's `Nice` and `Scheduler` (General section):
// on a loaded master a resync must not wait behind CPU hogs. Applied once
// at start, before the first conntrack child is spawned: children inherit
// the nice value and the policy (no reset-on-fork), so every `conntrack`
// runs at the daemon's priority. Node has no sched_setscheduler, so the
// policy goes through util-linux chrt(1), as heartbeatd's `realtime` does.
// Refused (no root, no CAP_SYS_NICE): a warning, and the daemon goes on.

import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { setPriority } from 'node:os'
import type { Logger } from '@has/daemon-kit'

export const SCHED_POLICIES = ['rr', 'fifo', 'other'] as const
export type SchedPolicy = (typeof SCHED_POLICIES)[number]

export interface Scheduler {
  readonly policy: SchedPolicy
  /** 1..99 for rr and fifo (sched(7)); 0 for other. */
  readonly priority: number
}

export interface Priority {
  readonly nice?: number
  readonly scheduler?: Scheduler
}

/** chrt(1) arguments that set the policy of every thread of `pid`. */
export function chrtArgs(s: Scheduler, pid: number): string[] {
  const flag = s.policy === 'rr' ? '-r' : s.policy === 'fifo' ? '-f' : '-o'
  return ['-a', flag, '-p', String(s.priority), String(pid)]
}

/** sched(7) policy numbers as /proc/<pid>/stat shows them (field 41). */
const POLICY_NAMES: Readonly<Record<number, string>> = {
  0: 'other',
  1: 'fifo',
  2: 'rr',
  3: 'batch',
  5: 'idle',
  6: 'deadline',
}

export interface SchedState {
  readonly nice: number
  readonly policy: string
  readonly rtPriority: number
}

/**
 * nice (field 19), rt_priority (40) and policy (41) of a /proc/<pid>/stat
 * line; undefined if it is not one. Fields are counted after the last `)`
 * (the command name may hold spaces and parentheses).
 */
export function parseSchedStat(stat: string): SchedState | undefined {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const nice = Number(rest[19 - 3])
  const rtPriority = Number(rest[40 - 3])
  const policy = Number(rest[41 - 3])
  if (![nice, rtPriority, policy].every(Number.isInteger)) return undefined
  return {
    nice,
    rtPriority,
    policy: POLICY_NAMES[policy] ?? String(policy),
  }
}

/** The scheduling state of a process (its main thread), or undefined. */
export function readSchedState(pid: number | 'self'): SchedState | undefined {
  try {
    return parseSchedStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}

export type Outcome = 'applied' | 'refused' | 'unset'

export interface PriorityOptions {
  /** chrt(1) to run (default `chrt` from PATH). */
  readonly chrt?: string
  /** Process to apply to (default this one). */
  readonly pid?: number
}

/**
 * Sets `nice` on every thread of the process (Linux nice is per thread;
 * threads made later inherit it from their creator) and the scheduler
 * with chrt. Never throws: what is refused is logged as a warning.
 */
export async function applyPriority(
  p: Priority,
  log: Logger,
  o: PriorityOptions = {},
): Promise<{ nice: Outcome; scheduler: Outcome }> {
  const pid = o.pid ?? process.pid
  let nice: Outcome = 'unset'
  if (p.nice !== undefined) {
    nice = 'applied'
    let tids: string[]
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {
      tids = [String(pid)]
    }
    for (const tid of tids) {
      try {
        setPriority(Number(tid), p.nice)
      } catch (err) {
        // A thread that ended meanwhile is not a refusal.
        if ((err as { info?: { code?: string } }).info?.code === 'ESRCH')
          continue
        nice = 'refused'
        log.warn(
          { err: (err as Error).message, nice: p.nice },
          'cannot set nice (lowering it needs root or CAP_SYS_NICE); running at the inherited value',
        )
        break
      }
    }
  }
  let scheduler: Outcome = 'unset'
  const s = p.scheduler
  if (s) {
    scheduler = await new Promise<Outcome>(resolve => {
      execFile(o.chrt ?? 'chrt', chrtArgs(s, pid), err => {
        if (!err) return resolve('applied')
        log.warn(
          { err: err.message, scheduler: s.policy, priority: s.priority },
          'cannot set the scheduler (needs root or CAP_SYS_NICE, and chrt from util-linux); running with the inherited one',
        )
        resolve('refused')
      })
    })
  }
  const now = readSchedState(pid)
  if (nice === 'applied' || scheduler === 'applied')
    log.info({ ...now }, 'CPU priority set')
  return { nice, scheduler }
}
