// Entries held for each peer (the external cache, in conntrackd's words):
// what the peer last told us, with the time it did, so entries that stop
// being refreshed expire and status can show counts per peer.

import { flowKey, type Flow, type FlowKey } from './flow.js'

export interface HeldFlow {
  readonly flow: Flow
  readonly peer: string
  /** ms timestamp of the last update from the peer. */
  seenAt: number
  /** ms timestamp of the last kernel insert/refresh, 0 if none yet. */
  kernelAt: number
  /** ms timestamp of the last failed kernel change, 0 if none since. */
  failedAt: number
}

/** Default bound on held entries (all peers together). */
export const MAX_HELD = 262_144

export class PeerTable {
  readonly #byKey = new Map<FlowKey, HeldFlow>()
  /**
   * No entry expires before this (a lower bound: a refresh only moves an
   * entry's end later), so expire() walks the table only when one may.
   */
  #nextEnd = Infinity
  constructor(readonly maxEntries = MAX_HELD) {}

  /**
   * Returns the entry and whether it is new or its NAT mapping changed;
   * undefined when the flow is new and the table is full (a peer cannot
   * grow our memory without bound).
   */
  upsert(
    peer: string,
    flow: Flow,
    now: number,
    /** flowKey(flow), when the caller has it already. */
    key: FlowKey = flowKey(flow),
  ): { held: HeldFlow; changed: boolean } | undefined {
    const old = this.#byKey.get(key)
    if (!old && this.#byKey.size >= this.maxEntries) return undefined
    const changed =
      !old ||
      old.flow.natDst !== flow.natDst ||
      old.flow.natDport !== flow.natDport ||
      old.flow.natSrc !== flow.natSrc ||
      old.flow.natSport !== flow.natSport
    const held: HeldFlow = {
      flow,
      peer,
      seenAt: now,
      kernelAt: changed ? 0 : (old?.kernelAt ?? 0),
      failedAt: changed ? 0 : (old?.failedAt ?? 0),
    }
    this.#byKey.set(key, held)
    this.#nextEnd = Math.min(this.#nextEnd, now + flow.timeout * 1000)
    return { held, changed }
  }

  remove(key: FlowKey): HeldFlow | undefined {
    const h = this.#byKey.get(key)
    this.#byKey.delete(key)
    return h
  }

  get(key: FlowKey): HeldFlow | undefined {
    return this.#byKey.get(key)
  }

  /** Drops entries not refreshed within their timeout; returns them. */
  expire(now: number): HeldFlow[] {
    const gone: HeldFlow[] = []
    if (now <= this.#nextEnd) return gone
    let next = Infinity
    for (const [k, h] of this.#byKey) {
      const end = h.seenAt + h.flow.timeout * 1000
      if (now > end) {
        this.#byKey.delete(k)
        gone.push(h)
      } else if (end < next) next = end
    }
    this.#nextEnd = next
    return gone
  }

  countByPeer(): Map<string, number> {
    const m = new Map<string, number>()
    for (const h of this.#byKey.values())
      m.set(h.peer, (m.get(h.peer) ?? 0) + 1)
    return m
  }

  get size(): number {
    return this.#byKey.size
  }

  values(): IterableIterator<HeldFlow> {
    return this.#byKey.values()
  }
}
