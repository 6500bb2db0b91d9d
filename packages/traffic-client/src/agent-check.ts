// HAProxy agent-check replies (HAProxy configuration.txt, "agent-check"):
// one ASCII line of words, then the agent closes. We always send a weight
// and an administrative state, so HAProxy never keeps a stale one:
//
//   report  "<N>% ready up"   N = the node's spare share, 1..100
//   drain   "0% drain"        no new sessions, existing ones finish
//   paused  "0% down #paused" HAProxy marks the server DOWN until "up"
//
// A ready node never says 0%: HAProxy would show it as DRAIN although its
// state is ready, and it must stay eligible while merely busy.

import type { Flag } from './flag.js'

export function agentReply(flag: Flag, percent: number): string {
  if (flag === 'drain') return '0% drain\n'
  if (flag === 'paused') return '0% down #paused\n'
  const p = Math.min(
    100,
    Math.max(1, Math.round(Number.isFinite(percent) ? percent : 0)),
  )
  return `${p}% ready up\n`
}
