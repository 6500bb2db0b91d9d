// The announce decision, pure: a verdict per probe in, a state out.
// Withdraw at the first failure; announce again only after health has held
// for `settleMs` (a flapping manager must not pull the router's ECMP set
// back and forth); `drain` withdraws and holds until `resume`.

export type Reason =
  | 'tm-down'
  | 'tm-timeout'
  | 'tm-error'
  | 'service-missing'
  | 'dataplane-down'
  | 'no-nodes'
  | 'drain'
  | 'starting'

/**
 * `key` names what the healthy state looks like (eligible nodes per
 * service): a change while settling starts the settle time again, so a
 * master is announced only once its node set, hence its Maglev table, has
 * stopped changing.
 */
export type Verdict =
  | { readonly ok: true; readonly key?: string }
  | { readonly ok: false; readonly reason: Reason; readonly detail: string }

export type State = 'withdrawn' | 'settling' | 'announced' | 'draining'

export interface Transition {
  readonly from: State
  readonly to: State
  readonly reason: Reason | 'healthy' | 'settled' | 'resume'
  readonly detail: string
}

export class HealthMachine {
  #state: State = 'withdrawn'
  #since: number
  #healthySince: number | undefined
  #healthyKey: string | undefined
  #reason: Transition['reason'] = 'starting'
  #detail = 'no probe yet'

  constructor(
    private settleMs: number,
    now: number,
  ) {
    this.#since = now
  }

  get state(): State {
    return this.#state
  }
  /** Whether the routes should be in BIRD's tables now. */
  get announce(): boolean {
    return this.#state === 'announced'
  }
  get since(): number {
    return this.#since
  }
  get reason(): string {
    return this.#reason
  }
  get detail(): string {
    return this.#detail
  }

  setSettle(ms: number): void {
    this.settleMs = ms
  }

  observe(v: Verdict, now: number): Transition | undefined {
    if (this.#state === 'draining') return undefined
    if (!v.ok) {
      this.#healthySince = undefined
      if (this.#state === 'withdrawn') {
        this.#reason = v.reason
        this.#detail = v.detail
        return undefined
      }
      return this.#go('withdrawn', v.reason, v.detail, now)
    }
    if (this.#state === 'announced') return undefined
    if (this.#healthySince === undefined || v.key !== this.#healthyKey) {
      this.#healthySince = now
      this.#healthyKey = v.key
    }
    if (now - this.#healthySince >= this.settleMs)
      return this.#go(
        'announced',
        'settled',
        `healthy for ${now - this.#healthySince} ms`,
        now,
      )
    if (this.#state === 'withdrawn')
      return this.#go(
        'settling',
        'healthy',
        `healthy; announcing after ${this.settleMs} ms`,
        now,
      )
    return undefined
  }

  drain(now: number): Transition | undefined {
    if (this.#state === 'draining') return undefined
    this.#healthySince = undefined
    return this.#go('draining', 'drain', 'drain requested', now)
  }

  resume(now: number): Transition | undefined {
    if (this.#state !== 'draining') return undefined
    return this.#go(
      'withdrawn',
      'resume',
      'resumed; announcing after health settles',
      now,
    )
  }

  #go(
    to: State,
    reason: Transition['reason'],
    detail: string,
    now: number,
  ): Transition {
    const from = this.#state
    this.#state = to
    this.#since = now
    this.#reason = reason
    this.#detail = detail
    return { from, to, reason, detail }
  }
}

/** traffic-manager's `health` answer (its PROTOCOL.md). */
export interface TmHealth {
  readonly services: readonly {
    name: string
    dataplane: string
    running: boolean
    eligible: number
  }[]
}

/** Judges one `health` answer against the configured services. */
export function judge(
  h: TmHealth,
  want: { services: readonly string[]; minNodes: number },
): Verdict {
  if (!h || !Array.isArray(h.services))
    return {
      ok: false,
      reason: 'tm-error',
      detail: 'health answer without services',
    }
  const byName = new Map(h.services.map(s => [s.name, s]))
  const names = want.services.length ? want.services : [...byName.keys()]
  if (names.length === 0)
    return {
      ok: false,
      reason: 'service-missing',
      detail: 'traffic-manager runs no service',
    }
  for (const name of names) {
    const s = byName.get(name)
    if (!s)
      return {
        ok: false,
        reason: 'service-missing',
        detail: `traffic-manager has no service ${name}`,
      }
    if (!s.running)
      return {
        ok: false,
        reason: 'dataplane-down',
        detail: `${name}: data plane ${s.dataplane} not running`,
      }
    if (s.eligible < want.minNodes)
      return {
        ok: false,
        reason: 'no-nodes',
        detail: `${name}: ${s.eligible} eligible node(s), need ${want.minNodes}`,
      }
  }
  return {
    ok: true,
    key: names.map(n => `${n}=${byName.get(n)?.eligible ?? 0}`).join(' '),
  }
}
