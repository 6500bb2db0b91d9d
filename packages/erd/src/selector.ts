// The link state machine, pure: it never reads a clock or a link itself.
// The daemon feeds it carrier observations and the time, and asks when it
// next needs a tick. Per-link phases follow bonding's miimon states (UP,
// FAIL, DOWN, BACK); the choice of active link follows primary_reselect.

import type { PrimaryReselect } from './config.js'

export type Role = 'primary' | 'secondary'
export const ROLES: readonly Role[] = ['primary', 'secondary']

/** up; going-down (downdelay running); down; coming-up (updelay running). */
export type Phase = 'up' | 'going-down' | 'down' | 'coming-up'

export interface SelectorOptions {
  readonly updelay: number
  readonly downdelay: number
  readonly primary_reselect: PrimaryReselect
  readonly flap_limit: number
  readonly flap_window: number
  readonly hold_time: number
}

export type SelectorEvent =
  | {
      type: 'link'
      role: Role
      phase: Phase
      at: number
      delay?: number
      flapping?: boolean
    }
  | {
      type: 'switch'
      from: Role | null
      to: Role | null
      reason: string
      at: number
    }

interface LinkState {
  phase: Phase
  carrier: boolean
  deadline?: number
  since: number
  /** Times of carrier losses inside the flap window. */
  losses: number[]
  speed: number
}

export interface LinkSnapshot {
  readonly phase: Phase
  readonly carrier: boolean
  readonly since: number
  readonly deadline?: number
  readonly flapping: boolean
  readonly recentLosses: number
}

export class LinkSelector {
  #opts: SelectorOptions
  #links: Record<Role, LinkState>
  #active: Role | null = null
  /** Operator's choice; holds until that link stops being usable. */
  #pinned: Role | null = null

  constructor(
    opts: SelectorOptions,
    now: number,
    carrier: Record<Role, boolean>,
  ) {
    this.#opts = opts
    const make = (c: boolean): LinkState => ({
      phase: c ? 'up' : 'down',
      carrier: c,
      since: now,
      losses: [],
      speed: -1,
    })
    this.#links = {
      primary: make(carrier.primary),
      secondary: make(carrier.secondary),
    }
    this.#active = carrier.primary
      ? 'primary'
      : carrier.secondary
        ? 'secondary'
        : null
  }

  get active(): Role | null {
    return this.#active
  }

  phase(role: Role): Phase {
    return this.#links[role].phase
  }

  /** The last carrier observed on `role`. */
  carrier(role: Role): boolean {
    return this.#links[role].carrier
  }

  /** Link speed in Mb/s (-1 unknown), for primary_reselect better. */
  setSpeed(role: Role, speed: number): void {
    this.#links[role].speed = speed
  }

  /** New timings or policy (reload); running delays keep their deadline. */
  reconfigure(opts: SelectorOptions, now: number): SelectorEvent[] {
    this.#opts = opts
    return this.#select(now, 'reconfigured')
  }

  /** A carrier sample or event; repeated samples of the same value are no-ops. */
  observe(role: Role, carrier: boolean, now: number): SelectorEvent[] {
    const l = this.#links[role]
    const events: SelectorEvent[] = []
    if (l.carrier === carrier) return this.tick(now)
    l.carrier = carrier
    if (!carrier) {
      l.losses.push(now)
      if (l.phase === 'up' && this.#opts.downdelay > 0) {
        this.#enter(l, 'going-down', now, now + this.#opts.downdelay)
        events.push({
          type: 'link',
          role,
          phase: l.phase,
          at: now,
          delay: this.#opts.downdelay,
        })
      } else if (l.phase !== 'down') {
        this.#enter(l, 'down', now)
        events.push({ type: 'link', role, phase: 'down', at: now })
      }
    } else if (l.phase === 'going-down') {
      this.#enter(l, 'up', now)
      events.push({ type: 'link', role, phase: 'up', at: now })
    } else if (l.phase === 'down') {
      const flapping = this.#flapping(l, now)
      const delay = flapping
        ? Math.max(this.#opts.updelay, this.#opts.hold_time)
        : this.#opts.updelay
      if (delay > 0) {
        this.#enter(l, 'coming-up', now, now + delay)
        events.push({
          type: 'link',
          role,
          phase: 'coming-up',
          at: now,
          delay,
          flapping,
        })
      } else {
        this.#enter(l, 'up', now)
        events.push({ type: 'link', role, phase: 'up', at: now })
      }
    }
    return [...events, ...this.tick(now)]
  }

  /** Expires delays due at `now`, then reselects. */
  tick(now: number): SelectorEvent[] {
    const events: SelectorEvent[] = []
    for (const role of ROLES) {
      const l = this.#links[role]
      if (l.deadline === undefined || l.deadline > now) continue
      this.#enter(l, l.phase === 'going-down' ? 'down' : 'up', now)
      events.push({ type: 'link', role, phase: l.phase, at: now })
    }
    return [
      ...events,
      ...this.#select(now, events.length ? 'delay expired' : 'link change'),
    ]
  }

  /** When the next tick is due (undefined: no delay running). */
  nextDeadline(): number | undefined {
    const ds = ROLES.map(r => this.#links[r].deadline).filter(
      (d): d is number => d !== undefined,
    )
    return ds.length ? Math.min(...ds) : undefined
  }

  /**
   * Operator command: makes `role` active and keeps it there while it is
   * usable; null returns to automatic selection. False if not usable.
   */
  force(role: Role | null, now: number): SelectorEvent[] | false {
    if (role === null) {
      this.#pinned = null
      return this.#select(now, 'operator released the link')
    }
    if (!this.#usable(role)) return false
    this.#pinned = role
    return this.#switch(role, 'operator request', now)
  }

  get pinned(): Role | null {
    return this.#pinned
  }

  snapshot(now: number): Record<Role, LinkSnapshot> {
    const snap = (l: LinkState): LinkSnapshot => ({
      phase: l.phase,
      carrier: l.carrier,
      since: l.since,
      ...(l.deadline === undefined ? {} : { deadline: l.deadline }),
      flapping: this.#flapping(l, now),
      recentLosses: this.#recent(l, now).length,
    })
    return {
      primary: snap(this.#links.primary),
      secondary: snap(this.#links.secondary),
    }
  }

  #enter(l: LinkState, phase: Phase, now: number, deadline?: number): void {
    l.phase = phase
    l.since = now
    if (deadline === undefined) delete l.deadline
    else l.deadline = deadline
  }

  #recent(l: LinkState, now: number): number[] {
    l.losses = l.losses.filter(t => t > now - this.#opts.flap_window)
    return l.losses
  }

  #flapping(l: LinkState, now: number): boolean {
    return (
      this.#opts.flap_limit > 0 &&
      this.#recent(l, now).length >= this.#opts.flap_limit
    )
  }

  #usable(role: Role): boolean {
    const p = this.#links[role].phase
    return p === 'up' || p === 'going-down'
  }

  #select(now: number, reason: string): SelectorEvent[] {
    const events: SelectorEvent[] = []
    // With no usable link, a link still inside its updelay is better than
    // nothing: take it at once (bonding does the same).
    if (!this.#usable('primary') && !this.#usable('secondary')) {
      const back = ROLES.find(r => this.#links[r].phase === 'coming-up')
      if (back) {
        this.#enter(this.#links[back], 'up', now)
        events.push({ type: 'link', role: back, phase: 'up', at: now })
        reason = 'no other link up; updelay cut short'
      }
    }
    if (this.#pinned && !this.#usable(this.#pinned)) this.#pinned = null
    const cur = this.#active
    let next: Role | null
    if (this.#pinned) {
      next = this.#pinned
    } else if (cur !== null && this.#usable(cur)) {
      next =
        cur === 'secondary' && this.#usable('primary') && this.#reselect()
          ? 'primary'
          : cur
      if (next !== cur)
        reason = `primary_reselect ${this.#opts.primary_reselect}`
    } else {
      next = this.#usable('primary')
        ? 'primary'
        : this.#usable('secondary')
          ? 'secondary'
          : null
      if (cur !== null) reason = `${cur} link down`
    }
    return next === cur
      ? events
      : [...events, ...this.#switch(next, reason, now)]
  }

  #reselect(): boolean {
    switch (this.#opts.primary_reselect) {
      case 'always':
        return true
      case 'failure':
        return false
      case 'better':
        return this.#links.primary.speed > this.#links.secondary.speed
    }
  }

  #switch(to: Role | null, reason: string, now: number): SelectorEvent[] {
    const from = this.#active
    if (from === to) return []
    this.#active = to
    return [{ type: 'switch', from, to, reason, at: now }]
  }
}
