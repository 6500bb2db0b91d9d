// From reported load index to scheduler weight. The load index has no fixed
// scale (the thesis formula gives thousands, traffic-client's default
// formula another range), so weights are relative within one virtual
// service: the node with the largest load index gets 256, the others
// 256 x load / max, at least 1. Load index 0 is what /proc says of a node
// with every CPU busy ("no spare capacity"), not an operator's drain: it
// keeps the floor weight 1, so a node at 0 gets little while others have
// room, and when every node is at 0 they share the traffic equally (a
// cluster at capacity degrades, never refuses). Only state `drain` (or a
// manual weight 0) quiesces; plan.ts applies that. An operator override
// (`weight` command) replaces the derived value but never revives a
// drained or absent node.

export const MAX_WEIGHT = 256

/** Weight of a node reporting `up` with this load index. */
export function weightFromLoad(load: number, maxLoad: number): number {
  if (load <= 0 || maxLoad <= 0) return 1
  return Math.max(
    1,
    Math.min(MAX_WEIGHT, Math.round((MAX_WEIGHT * load) / maxLoad)),
  )
}
