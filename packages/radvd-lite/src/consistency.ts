// RFC 4861 6.2.7: a router watches the RAs of other routers on the link
// and reports values that contradict its own (two master nodes with
// diverging configs hand hosts a coin toss). Pure: two decoded RAs in, the
// list of inconsistencies out. Unspecified (0) values never conflict.

import type { RaContent } from './ra.js'

export interface Inconsistency {
  readonly field: string
  readonly ours: number | boolean
  readonly theirs: number | boolean
}

export function compareRa(ours: RaContent, theirs: RaContent): Inconsistency[] {
  const out: Inconsistency[] = []
  const num = (
    field: string,
    a: number | undefined,
    b: number | undefined,
  ): void => {
    if (a && b && a !== b) out.push({ field, ours: a, theirs: b })
  }
  num('curHopLimit', ours.curHopLimit, theirs.curHopLimit)
  if (ours.managed !== theirs.managed)
    out.push({ field: 'managed', ours: ours.managed, theirs: theirs.managed })
  if (ours.other !== theirs.other)
    out.push({ field: 'other', ours: ours.other, theirs: theirs.other })
  num('reachableTime', ours.reachableTime, theirs.reachableTime)
  num('retransTimer', ours.retransTimer, theirs.retransTimer)
  num('mtu', ours.mtu, theirs.mtu)
  for (const p of theirs.prefixes) {
    const mine = ours.prefixes.find(
      q => q.prefix === p.prefix && q.length === p.length,
    )
    if (!mine) continue
    // Lifetimes that count down (DecrementLifetimes elsewhere) are not
    // comparable; RFC 4861 says to compare the fixed ones, as radvd does.
    num(`prefix ${p.prefix}/${p.length} valid`, mine.valid, p.valid)
    num(`prefix ${p.prefix}/${p.length} preferred`, mine.preferred, p.preferred)
  }
  return out
}
