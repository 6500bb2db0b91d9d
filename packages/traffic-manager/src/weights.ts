// From reported load index to scheduler weight. The load index has no fixed
// scale (the thesis formula gives thousands, traffic-client's default
// formula another range), so weights are relative within one virtual
// service: the node with the largest load index gets 256, the others
// 256 x load / max (at least 1 while load > 0). Load 0 or state `drain`
// gives 0: quiesced. An operator override (`weight` command) replaces the
// derived value but never revives a drained or absent node.

export const MAX_WEIGHT = 256

export function weightFromLoad(load: number, maxLoad: number): number {
  if (load <= 0 || maxLoad <= 0) return 0
  return Math.max(1, Math.min(MAX_WEIGHT, Math.round((MAX_WEIGHT * load) / maxLoad)))
}
