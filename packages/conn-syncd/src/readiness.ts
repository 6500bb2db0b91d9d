// "Is this master ready to take the VIP?": it holds every peer's full
// table. A peer we heard from since start (or since it restarted) must
// have completed a full-table answer (FLAG_RESYNC_END); a configured peer
// that stays silent for the start-up grace is not waited for (it may be
// down). Whether the tables are also in the kernel is the queue's part.

export class Readiness {
  readonly #heard = new Set<string>()
  readonly #answered = new Set<string>()
  constructor(
    readonly expected: readonly string[],
    readonly startedAt: number,
    readonly graceMs: number,
  ) {}

  heard(host: string): void {
    this.#heard.add(host)
  }

  /** The peer restarted: its table may have changed, wait for it again. */
  restarted(host: string): void {
    this.#answered.delete(host)
  }

  answered(host: string): void {
    this.#answered.add(host)
  }

  /** Peers whose full table has not arrived yet. */
  waitingFor(now: number): string[] {
    const inGrace = now - this.startedAt < this.graceMs
    const want = new Set([...this.#heard, ...(inGrace ? this.expected : [])])
    return [...want].filter(h => !this.#answered.has(h)).sort()
  }
}
