// What a change of health does to the cluster, in the two modes:
//
// - director: weights in the traffic-manager over its control socket,
//   `weight <vip:port> <node> 0` when a real is down (quiescent=yes and
//   quiescent=no alike: the control protocol has no removal, weight 0 is
//   the closest and lets open connections finish), `auto` when it is back.
//   The fallback node gets `auto` while every real is down, else 0.
// - HAS (thesis 3.24.11): this node is failed while any local real is
//   down; then every traffic-manager gets `drain` reports (load 0) each
//   tick, and the local traffic-client is paused; on recovery one `up`
//   report with load 1 (the thesis's load_index = 1) and `resume`.
//
// Down weights and drains are re-sent every tick, so a restarted peer
// learns them again; commands that failed are retried each tick.

import type { Logger } from '@has/daemon-kit'
import type { LdConfig, VirtualService } from './config.js'
import type { RealStatus } from './health.js'
import type { Reporter } from './reporter.js'

/** How long a drain waits for the traffic-client's pause to be answered. */
export const PAUSE_HEAD_START_MS = 250

const delay = (ms: number): Promise<void> =>
  new Promise(r => setTimeout(r, ms).unref())

export type ControlSender = (
  address: string,
  cmd: string,
  args: string[],
) => Promise<unknown>

export interface ActionsStatus {
  readonly mode: 'director' | 'has'
  readonly [k: string]: unknown
}

export interface Actions {
  /** Health of every real server changed (or a check completed). */
  update(
    view: ReadonlyMap<VirtualService, ReadonlyMap<string, RealStatus>>,
  ): Promise<void>
  /** Periodic: re-assert down state, retry failed commands. */
  tick(): Promise<void>
  status(): ActionsStatus
  close(): Promise<void>
}

interface Want {
  readonly service: string
  readonly node: string
  weight: '0' | 'auto'
  acked?: string
}

export class DirectorActions implements Actions {
  private readonly wants = new Map<string, Want>()
  private syncing: Promise<void> = Promise.resolve()

  constructor(
    private readonly address: string | undefined,
    private readonly send: ControlSender,
    private readonly logger: Logger,
    private readonly onAction: (action: string, ok: boolean) => void,
  ) {}

  private want(service: string, node: string, weight: '0' | 'auto'): boolean {
    const key = `${service} ${node}`
    const w = this.wants.get(key)
    if (!w) {
      this.wants.set(key, { service, node, weight })
      return true
    }
    if (w.weight === weight) return false
    w.weight = weight
    return true
  }

  async update(
    view: ReadonlyMap<VirtualService, ReadonlyMap<string, RealStatus>>,
  ): Promise<void> {
    let changed = false
    for (const [v, reals] of view) {
      let anyUp = false
      let allDown = reals.size > 0
      for (const [node, st] of reals) {
        if (st === 'up') {
          anyUp = true
          changed = this.want(v.name, node, 'auto') || changed
        } else if (st === 'down') {
          changed = this.want(v.name, node, '0') || changed
        }
        if (st !== 'down') allDown = false
      }
      if (v.fallback && (allDown || anyUp)) {
        changed =
          this.want(v.name, v.fallback.host, allDown ? 'auto' : '0') || changed
      }
    }
    if (changed) await this.sync(false)
  }

  tick(): Promise<void> {
    return this.sync(true)
  }

  private sync(reassert: boolean): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      if (!this.address) return
      for (const w of this.wants.values()) {
        if (w.acked === w.weight && !(reassert && w.weight === '0')) continue
        const weight = w.weight
        try {
          await this.send(this.address, 'weight', [w.service, w.node, weight])
          if (w.acked !== weight)
            this.logger.info(
              { service: w.service, node: w.node, weight },
              'weight set',
            )
          w.acked = weight
          this.onAction('weight', true)
        } catch (err) {
          this.onAction('weight', false)
          this.logger.warn(
            { err, service: w.service, node: w.node, weight },
            'weight command failed; will retry',
          )
        }
      }
    })
    return this.syncing
  }

  status(): ActionsStatus {
    return {
      mode: 'director',
      trafficmanagercontrol: this.address ?? null,
      weights: [...this.wants.values()].map(w => ({
        service: w.service,
        node: w.node,
        weight: w.weight,
        applied: w.acked === w.weight,
      })),
    }
  }

  async close(): Promise<void> {
    await this.syncing
  }
}

export class HasActions implements Actions {
  private failed = false
  private known = false
  /** Desired and acknowledged traffic-client state. */
  private tcWant: 'pause' | 'resume' | undefined
  private tcAcked: 'pause' | 'resume' | undefined
  private drainsSent = 0
  private chain: Promise<void> = Promise.resolve()

  constructor(
    private readonly config: Pick<LdConfig, 'trafficclientcontrol'>,
    private readonly reporter: Reporter | undefined,
    private readonly send: ControlSender,
    private readonly logger: Logger,
    private readonly onAction: (action: string, ok: boolean) => void,
  ) {}

  update(
    view: ReadonlyMap<VirtualService, ReadonlyMap<string, RealStatus>>,
  ): Promise<void> {
    let anyDown = false
    let anyKnown = false
    for (const reals of view.values()) {
      for (const st of reals.values()) {
        if (st === 'down') anyDown = true
        if (st !== 'unknown') anyKnown = true
      }
    }
    if (!anyKnown) return this.chain
    if (this.known && anyDown === this.failed) return this.chain
    const first = !this.known
    this.known = true
    this.failed = anyDown
    return this.enqueue(async () => {
      if (anyDown) {
        this.logger.warn('application failed: draining this node')
        this.tcWant = 'pause'
        // Pause first, so a traffic-client report sent after our drain
        // cannot put the node back; but a hung traffic-client must not
        // hold the drain back for long.
        const paused = this.syncClient()
        await Promise.race([paused, delay(PAUSE_HEAD_START_MS)])
        await this.drain()
        await paused
        return
      }
      // A first "healthy" needs no announcement: nothing was drained.
      if (first) return
      this.logger.info('application recovered: node back in service')
      await this.reporter?.send('up', 1)
      this.onAction('report-up', true)
      this.tcWant = 'resume'
      await this.syncClient()
    })
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(fn, fn)
    return this.chain
  }

  private async drain(): Promise<void> {
    if (!this.reporter) return
    await this.reporter.send('drain', 0)
    this.drainsSent++
    this.onAction('report-drain', true)
  }

  private async syncClient(): Promise<void> {
    const addr = this.config.trafficclientcontrol
    if (!addr || this.tcWant === undefined || this.tcWant === this.tcAcked)
      return
    const cmd = this.tcWant
    try {
      await this.send(addr, cmd, [])
      this.tcAcked = cmd
      this.onAction(cmd, true)
      this.logger.info({ command: cmd }, 'traffic-client told')
    } catch (err) {
      this.onAction(cmd, false)
      this.logger.warn(
        { err, command: cmd },
        'traffic-client control failed; will retry',
      )
    }
  }

  tick(): Promise<void> {
    return this.enqueue(async () => {
      if (this.failed) await this.drain()
      await this.syncClient()
    })
  }

  status(): ActionsStatus {
    return {
      mode: 'has',
      nodeFailed: this.failed,
      drainsSent: this.drainsSent,
      trafficClient: this.tcAcked ?? null,
    }
  }

  async close(): Promise<void> {
    await this.chain
    await this.reporter?.close()
  }
}
