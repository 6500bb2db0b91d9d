// Which server to present, as a pure state machine over probe samples and
// an injected clock. Prefer the first server; leave the active one after
// `failures` consecutive failed samples; come back to a more preferred one
// only after it has been healthy for `failbackHoldMs` (null: never).

export interface PolicyOptions {
  readonly servers: readonly string[]
  readonly failures: number
  /** ms the preferred server must stay healthy before failback; null: never. */
  readonly failbackHoldMs: number | null
}

export interface ServerHealth {
  readonly name: string
  readonly healthy: boolean
  readonly consecutiveFailures: number
  /** Clock value when it last turned healthy; null while unhealthy. */
  readonly healthySince: number | null
  readonly lastError: string | null
  readonly samples: number
}

export type Decision =
  | { readonly kind: 'stay' }
  | {
      readonly kind: 'switch'
      readonly to: string
      readonly from: string | null
      readonly reason: string
    }

export class FailoverPolicy {
  readonly #opts: PolicyOptions
  readonly #health = new Map<string, ServerHealth>()
  #active: string | null = null

  constructor(opts: PolicyOptions) {
    this.#opts = opts
    for (const name of opts.servers) {
      // Unknown until probed: not healthy, so nothing is presented blindly.
      this.#health.set(name, {
        name,
        healthy: false,
        consecutiveFailures: 0,
        healthySince: null,
        lastError: 'not probed yet',
        samples: 0,
      })
    }
  }

  get active(): string | null {
    return this.#active
  }

  health(): ServerHealth[] {
    return this.#opts.servers.map(s => this.#health.get(s) as ServerHealth)
  }

  /** Records one probe result for a server. */
  sample(server: string, ok: boolean, now: number, error?: string): void {
    const h = this.#health.get(server)
    if (!h) return
    if (ok) {
      this.#health.set(server, {
        ...h,
        healthy: true,
        consecutiveFailures: 0,
        healthySince: h.healthy ? h.healthySince : now,
        lastError: null,
        samples: h.samples + 1,
      })
      return
    }
    const failures = h.consecutiveFailures + 1
    // A server never seen healthy is down on its first failure; a healthy
    // one gets `failures` chances so one lost probe does not flap.
    const down = !h.healthy || failures >= this.#opts.failures
    this.#health.set(server, {
      ...h,
      healthy: !down,
      consecutiveFailures: failures,
      healthySince: down ? null : h.healthySince,
      lastError: error ?? 'probe failed',
      samples: h.samples + 1,
    })
  }

  /** Decides, and commits, the active server after a round of samples. */
  decide(now: number): Decision {
    const servers = this.#opts.servers
    const healthy = (s: string): boolean =>
      this.#health.get(s)?.healthy === true
    const from = this.#active
    if (from === null || !healthy(from)) {
      const to = servers.find(healthy)
      if (!to || to === from) return { kind: 'stay' }
      // At start, a more preferred server gets its `failures` chances
      // before a less preferred one is presented (a slow first probe
      // must not pin the mount to server2 when failback is off).
      if (from === null) {
        const undecided = servers
          .slice(0, servers.indexOf(to))
          .some(
            s =>
              (this.#health.get(s)?.consecutiveFailures ?? 0) <
              this.#opts.failures,
          )
        if (undecided) return { kind: 'stay' }
      }
      this.#active = to
      return {
        kind: 'switch',
        to,
        from,
        reason: from === null ? 'initial' : `${from} failed`,
      }
    }
    const hold = this.#opts.failbackHoldMs
    if (hold === null) return { kind: 'stay' }
    const rank = servers.indexOf(from)
    for (const s of servers.slice(0, rank)) {
      const since = this.#health.get(s)?.healthySince
      if (
        healthy(s) &&
        since !== null &&
        since !== undefined &&
        now - since >= hold
      ) {
        this.#active = s
        return {
          kind: 'switch',
          to: s,
          from,
          reason: `failback to preferred ${s}`,
        }
      }
    }
    return { kind: 'stay' }
  }

  /** The presentation could not be changed: forget the switch. */
  revert(to: string | null): void {
    this.#active = to
  }
}
