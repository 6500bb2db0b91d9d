// When to send RAs on one interface (RFC 4861 6.2.4-6.2.6). Pure: the
// caller passes the time and a random source and acts on what due()
// returns, so every rule is tested without waiting.
//   - unsolicited multicast RAs at uniform random(Min, Max) intervals;
//   - after each of the first MAX_INITIAL_RTR_ADVERTISEMENTS RAs the
//     interval is capped at MAX_INITIAL_RTR_ADVERT_INTERVAL;
//   - never two multicast RAs closer than MIN_DELAY_BETWEEN_RAS;
//   - an RS is answered after random(0, MAX_RA_DELAY_TIME); a multicast
//     answer folds into the next unsolicited RA when that one comes first.

export const MAX_INITIAL_RTR_ADVERT_INTERVAL = 16_000 // ms
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3
export const MAX_FINAL_RTR_ADVERTISEMENTS = 3
export const MIN_DELAY_BETWEEN_RAS = 3_000 // ms
export const MAX_RA_DELAY_TIME = 500 // ms
/** Unicast answers waiting at once; beyond this, one multicast answers all. */
export const MAX_PENDING_UNICAST = 16

export type SendAction =
  | { readonly kind: 'unsolicited' | 'solicited' }
  | { readonly kind: 'unicast'; readonly dst: string }

export interface SchedulerOptions {
  /** seconds, as in the config */
  readonly min: number
  readonly max: number
  /** Uniform in [0, 1). */
  readonly random?: () => number
}

export class RaScheduler {
  #min: number
  #max: number
  readonly #random: () => number
  #initialSent = 0
  #lastMulticast = -Infinity
  #nextUnsolicited = Infinity
  #pendingMulticast: number | undefined
  readonly #pendingUnicast = new Map<string, number>()

  constructor(opts: SchedulerOptions) {
    this.#min = opts.min * 1000
    this.#max = opts.max * 1000
    this.#random = opts.random ?? Math.random
  }

  /** Becomes an advertising interface: first RA now, fast ones after. */
  start(now: number): void {
    this.#initialSent = 0
    this.#nextUnsolicited = Math.max(
      now,
      this.#lastMulticast + MIN_DELAY_BETWEEN_RAS,
    )
  }

  /** New intervals (reload); restarts the fast initial RAs so hosts learn soon. */
  reconfigure(now: number, min: number, max: number): void {
    this.#min = min * 1000
    this.#max = max * 1000
    this.start(now)
  }

  /** A valid RS arrived from `src` ('::' when the host has no address yet). */
  solicit(now: number, src: string, unicast: boolean): void {
    const at = now + this.#random() * MAX_RA_DELAY_TIME
    if (
      unicast &&
      src !== '::' &&
      this.#pendingUnicast.size < MAX_PENDING_UNICAST
    ) {
      if (!this.#pendingUnicast.has(src)) this.#pendingUnicast.set(src, at)
      return
    }
    const t = Math.max(at, this.#lastMulticast + MIN_DELAY_BETWEEN_RAS)
    if (this.#nextUnsolicited <= t) return
    if (this.#pendingMulticast !== undefined && this.#pendingMulticast <= t)
      return
    this.#pendingMulticast = t
  }

  /** What to send now; call at nextAt() (calling early is harmless). */
  due(now: number): SendAction[] {
    const out: SendAction[] = []
    const unsolicited = now >= this.#nextUnsolicited
    const solicited =
      this.#pendingMulticast !== undefined && now >= this.#pendingMulticast
    if (unsolicited || solicited) {
      const earliest = this.#lastMulticast + MIN_DELAY_BETWEEN_RAS
      if (now < earliest) {
        if (unsolicited) this.#nextUnsolicited = earliest
        if (solicited) this.#pendingMulticast = earliest
      } else {
        out.push({ kind: unsolicited ? 'unsolicited' : 'solicited' })
        this.#lastMulticast = now
        this.#pendingMulticast = undefined
        this.#nextUnsolicited = now + this.#interval()
      }
    }
    for (const [dst, at] of this.#pendingUnicast) {
      if (at <= now) {
        out.push({ kind: 'unicast', dst })
        this.#pendingUnicast.delete(dst)
      }
    }
    return out
  }

  #interval(): number {
    let ivl = this.#min + this.#random() * (this.#max - this.#min)
    if (this.#initialSent < MAX_INITIAL_RTR_ADVERTISEMENTS) {
      this.#initialSent++
      ivl = Math.min(ivl, MAX_INITIAL_RTR_ADVERT_INTERVAL)
    }
    return ivl
  }

  /** Absolute time of the next action (Infinity before start()). */
  nextAt(): number {
    let t = Math.min(this.#nextUnsolicited, this.#pendingMulticast ?? Infinity)
    for (const at of this.#pendingUnicast.values()) t = Math.min(t, at)
    return t
  }

  get lastMulticastAt(): number {
    return this.#lastMulticast
  }
}
