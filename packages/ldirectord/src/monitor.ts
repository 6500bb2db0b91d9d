// One check loop per real server. Loops are independent timers, so a slow
// or hanging server delays only its own next check; a check never overlaps
// itself (the next one starts checkinterval after the previous started, or
// when it ends if it ran longer). Clock and check runner are injectable.

import { access } from 'node:fs/promises'
import { systemClock, type Clock, type Timer } from '@has/daemon-kit'
import { join } from 'node:path'
import type { RealServer, VirtualService } from './config.js'
import {
  checkConnect,
  checkExternal,
  checkHttp,
  checkOff,
  checkOn,
  checkPing,
  type CheckResult,
} from './checks.js'
import { applyResult, INITIAL, type HealthState } from './health.js'

export interface CheckEvent {
  readonly virtual: VirtualService
  readonly real: RealServer
  readonly result: CheckResult
  /** Which check ran (connect, http, ping...), for metrics. */
  readonly kind: string
  readonly durationMs: number
  readonly state: HealthState
  readonly changed?: 'up' | 'down'
}

export type CheckRunner = (
  v: VirtualService,
  r: RealServer,
  round: number,
) => Promise<{ kind: string; result: CheckResult }>

/** Dispatches on checktype; `round` counts checks for checktype=N. */
export const runCheck: CheckRunner = async (v, r, round) => {
  const port = v.checkport ?? r.port
  let type = v.checktype
  // checktype=N: N connect checks, then one negotiate check.
  if (typeof type === 'number')
    type = round % (type + 1) === type ? 'negotiate' : 'connect'
  switch (type) {
    case 'on':
      return { kind: 'on', result: await checkOn() }
    case 'off':
      return { kind: 'off', result: await checkOff() }
    case 'ping':
      return { kind: 'ping', result: await checkPing(r.host, v.checktimeout) }
    case 'external':
      return {
        kind: 'external',
        result: await checkExternal(
          v.checkcommand,
          { vip: v.host, vport: v.port, rip: r.host, rport: port },
          v.checktimeout,
        ),
      }
    case 'negotiate':
      if (v.service !== 'none') {
        return {
          kind: v.service,
          result: await checkHttp({
            service: v.service,
            host: r.host,
            port,
            request: r.request ?? v.request,
            method: v.httpmethod,
            timeoutMs: v.negotiatetimeout,
            ...((r.receive ?? v.receive) !== undefined
              ? { receive: (r.receive ?? v.receive) as string }
              : {}),
            ...(v.virtualhost !== undefined
              ? { virtualhost: v.virtualhost }
              : {}),
          }),
        }
      }
      // negotiate with service=none is a connect check (nothing to say).
      return {
        kind: 'connect',
        result: await checkConnect(r.host, port, v.checktimeout),
      }
    default:
      return {
        kind: 'connect',
        result: await checkConnect(r.host, port, v.checktimeout),
      }
  }
}

/**
 * Names a maintenance file may have for this real: ip, ip:port; an IPv6
 * address in brackets as ldirectord writes it ([v6], [v6]:port), or bare.
 */
export function maintenanceNames(r: RealServer): string[] {
  if (!r.host.includes(':')) return [r.host, `${r.host}:${r.port}`]
  return [r.host, `[${r.host}]`, `[${r.host}]:${r.port}`]
}

async function inMaintenance(
  dir: string | undefined,
  r: RealServer,
): Promise<string | undefined> {
  if (!dir) return undefined
  for (const n of maintenanceNames(r)) {
    try {
      await access(join(dir, n))
      return n
    } catch {
      // absent: not in maintenance under this name
    }
  }
  return undefined
}

export interface MonitorOptions {
  readonly virtual: VirtualService
  readonly real: RealServer
  readonly maintenancedir?: string
  readonly clock?: Clock
  readonly run?: CheckRunner
  readonly onResult: (e: CheckEvent) => void
  /** Carry state over a reload (same virtual and real). */
  readonly initial?: HealthState
}

export class RealMonitor {
  state: HealthState
  private timer: Timer | undefined
  private stopped = false
  private round = 0
  /** When the pending check is due: the next is due one interval later. */
  private due = 0
  private readonly clock: Clock
  private readonly run: CheckRunner

  constructor(readonly opts: MonitorOptions) {
    this.state = opts.initial ?? INITIAL
    this.clock = opts.clock ?? systemClock
    this.run = opts.run ?? runCheck
  }

  /** First check now, then every checkinterval. */
  start(): void {
    this.schedule(0)
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.due = this.clock.now() + ms
    this.timer = this.clock.after(ms, () => {
      void this.once()
    })
  }

  /** Runs one check and schedules the next; exposed for tests. */
  async once(): Promise<void> {
    const { virtual: v, real: r } = this.opts
    const started = this.clock.now()
    const maint = await inMaintenance(this.opts.maintenancedir, r)
    let kind = 'maintenance'
    let result: CheckResult
    if (maint !== undefined) {
      result = {
        ok: false,
        code: 'LD_ERR_MAINTENANCE',
        reason: `maintenance file ${maint} present`,
      }
    } else {
      // checkcount: a check fails only when every attempt of it fails.
      const round = this.round++
      let attempts = 0
      do {
        const out = await this.run(v, r, round)
        kind = out.kind
        result = out.result
      } while (!result.ok && ++attempts < v.checkcount && !this.stopped)
    }
    if (this.stopped) return
    const now = this.clock.now()
    const step = applyResult(
      this.state,
      result,
      v.failurecount,
      now,
      maint !== undefined,
    )
    this.state = step.state
    this.opts.onResult({
      virtual: v,
      real: r,
      result,
      kind,
      durationMs: now - started,
      state: step.state,
      ...(step.changed ? { changed: step.changed } : {}),
    })
    // Counted from when this check was due, not from when its timer fired,
    // so a busy event loop does not stretch the interval check after check
    // (unless it fell a whole interval behind: then from now on).
    const base = this.due > started - v.checkinterval ? this.due : started
    this.schedule(Math.max(0, base + v.checkinterval - now))
  }

  /** Stops the loop; a check in flight ends by its own deadline, unheard. */
  stop(): void {
    this.stopped = true
    this.timer?.cancel()
  }
}
