// Connections this master handles, from conntrack events: new ones wait
// for the sync threshold (short-lived flows are never sent), then go out;
// a flow that ends after being sent produces a removal.

import { flowKey, type Flow, type FlowKey } from './flow.js'

interface Local {
  flow: Flow
  firstSeen: number
  sent: boolean
}

export class LocalFlows {
  readonly #flows = new Map<FlowKey, Local>()
  /** Mutable so a reload can change sync-threshold. */
  constructor(public thresholdMs: number) {}

  seen(flow: Flow, now: number): void {
    const key = flowKey(flow)
    const old = this.#flows.get(key)
    if (old) old.flow = flow
    else this.#flows.set(key, { flow, firstSeen: now, sent: false })
  }

  /** Returns the flow if a removal must be sent for it. */
  ended(key: FlowKey): Flow | undefined {
    const l = this.#flows.get(key)
    this.#flows.delete(key)
    return l?.sent ? l.flow : undefined
  }

  /** Flows past the threshold not yet sent; marks them sent. */
  due(now: number): Flow[] {
    const out: Flow[] = []
    for (const l of this.#flows.values()) {
      if (!l.sent && now - l.firstSeen >= this.thresholdMs) {
        l.sent = true
        out.push(l.flow)
      }
    }
    return out
  }

  /** Replaces the set from a full kernel dump (refresh); returns all flows old enough. */
  reconcile(flows: readonly Flow[], now: number): Flow[] {
    const keep = new Map<FlowKey, Local>()
    for (const f of flows) {
      const key = flowKey(f)
      const old = this.#flows.get(key)
      keep.set(
        key,
        old ? { ...old, flow: f } : { flow: f, firstSeen: now, sent: false },
      )
    }
    this.#flows.clear()
    for (const [k, v] of keep) this.#flows.set(k, v)
    const out: Flow[] = []
    for (const l of this.#flows.values()) {
      if (now - l.firstSeen >= this.thresholdMs) {
        l.sent = true
        out.push(l.flow)
      }
    }
    return out
  }

  get size(): number {
    return this.#flows.size
  }
}
