// Pure scheduling decisions for one new connection. Every scheduler sees
// the same candidate list (weight 0 = quiesced, never picked) and an
// exclusion set (nodes that already failed for this connection). State that
// must survive between picks (rr cursor, wrr credits) lives in the scheduler
// object; counts live on the candidates so callers update them in place.

export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'has', 'p2c'] as const
export type SchedulerName = (typeof SCHEDULERS)[number]

export interface Candidate {
  readonly id: string
  /** 0..256; 0 means quiesced. */
  readonly weight: number
  /** Reported load index (larger = more spare capacity). */
  readonly load: number
  /** Connections open now (this process's view). */
  readonly active: number
}

export interface Scheduler {
  readonly name: SchedulerName
  pick<C extends Candidate>(
    list: readonly C[],
    exclude?: ReadonlySet<string>,
  ): C | undefined
}

const usable = (c: Candidate, exclude?: ReadonlySet<string>): boolean =>
  c.weight > 0 &&
  (exclude === undefined || exclude.size === 0 || !exclude.has(c.id))

/** `random` returns [0, 1); injected so tests are deterministic. */
export function createScheduler(
  name: SchedulerName,
  random: () => number = Math.random,
): Scheduler {
  switch (name) {
    case 'rr':
      return roundRobin()
    case 'wrr':
      return weightedRoundRobin()
    case 'lc':
      return leastConnections('lc', false)
    case 'wlc':
      return leastConnections('wlc', true)
    case 'has':
      return highestLoad()
    case 'p2c':
      return powerOfTwo(random)
  }
}

function roundRobin(): Scheduler {
  let cursor = 0
  return {
    name: 'rr',
    pick(list, exclude) {
      const n = list.length
      for (let i = 0; i < n; i++) {
        const c = list[(cursor + i) % n] as (typeof list)[number]
        if (usable(c, exclude)) {
          cursor = (cursor + i + 1) % n
          return c
        }
      }
      return undefined
    },
  }
}

// Smooth weighted round robin (as nginx does it): every pick each usable
// node earns its weight in credit, the richest wins and pays the total.
// Picks interleave (a a b a a b...) instead of bursting onto one node.
function weightedRoundRobin(): Scheduler {
  const credit = new Map<string, number>()
  return {
    name: 'wrr',
    pick(list, exclude) {
      let best: (typeof list)[number] | undefined
      let bestCredit = -Infinity
      let total = 0
      for (const c of list) {
        if (!usable(c, exclude)) continue
        const v = (credit.get(c.id) ?? 0) + c.weight
        credit.set(c.id, v)
        total += c.weight
        if (v > bestCredit) {
          bestCredit = v
          best = c
        }
      }
      if (best) credit.set(best.id, bestCredit - total)
      if (credit.size > list.length * 2) {
        // Forget nodes that left so the map does not grow with churn.
        const ids = new Set(list.map(c => c.id))
        for (const id of credit.keys()) if (!ids.has(id)) credit.delete(id)
      }
      return best
    },
  }
}

// lc: fewest open connections. wlc: fewest (active + 1) / weight, compared
// by cross-multiplication; the +1 lets idle nodes differ by weight. Ties go
// to the next node after the previous winner so equal nodes share the work.
function leastConnections(name: 'lc' | 'wlc', weighted: boolean): Scheduler {
  let start = 0
  return {
    name,
    pick(list, exclude) {
      const n = list.length
      let best: (typeof list)[number] | undefined
      let bestIdx = 0
      for (let i = 0; i < n; i++) {
        const idx = (start + i) % n
        const c = list[idx] as (typeof list)[number]
        if (!usable(c, exclude)) continue
        if (
          best === undefined ||
          (weighted
            ? (c.active + 1) * best.weight < (best.active + 1) * c.weight
            : c.active < best.active)
        ) {
          best = c
          bestIdx = idx
        }
      }
      if (best) start = (bestIdx + 1) % n
      return best
    },
  }
}

// The thesis's HAS distribution: the node with the highest load index (the
// least busy) wins. Between two reports every new connection lands on the
// same node; ties go to fewer open connections.
function highestLoad(): Scheduler {
  return {
    name: 'has',
    pick(list, exclude) {
      let best: (typeof list)[number] | undefined
      for (const c of list) {
        if (!usable(c, exclude)) continue
        if (
          best === undefined ||
          c.load > best.load ||
          (c.load === best.load && c.active < best.active)
        ) {
          best = c
        }
      }
      return best
    },
  }
}

// Weighted power of two choices (IPVS `twos`, Envoy least-request): draw
// two distinct nodes with probability proportional to weight, keep the one
// with fewer active / weight. Randomness spreads new connections
// between reports; the live connection count steers away from a node that
// is slow right now, whatever its last report said.
function powerOfTwo(random: () => number): Scheduler {
  return {
    name: 'p2c',
    pick(list, exclude) {
      let total = 0
      let count = 0
      for (const c of list) {
        if (usable(c, exclude)) {
          total += c.weight
          count++
        }
      }
      if (count === 0) return undefined
      const a = draw(list, exclude, total, random, undefined)
      if (count === 1 || a === undefined) return a
      const b = draw(list, exclude, total - a.weight, random, a)
      if (b === undefined) return a
      // Strictly fewer connections per weight wins; on a tie (both idle)
      // the first draw stands, so light load still follows the weights.
      return b.active * a.weight < a.active * b.weight ? b : a
    },
  }
}

function draw<C extends Candidate>(
  list: readonly C[],
  exclude: ReadonlySet<string> | undefined,
  total: number,
  random: () => number,
  skip: C | undefined,
): C | undefined {
  let r = random() * total
  let last: C | undefined
  for (const c of list) {
    if (c === skip || !usable(c, exclude)) continue
    last = c
    r -= c.weight
    if (r < 0) return c
  }
  return last
}
