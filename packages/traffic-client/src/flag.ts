// The load-report flag (thesis 3.22.8): ldirectord, or an operator, tells
// the traffic client whether to report. Pure state machine:
//
//   report --pause--> paused      one `drain` report (client.ts), then none
//   any    --drain--> drain       load 0, state drain: no new connections
//   any    --resume-> report      normal reports again
//
// Every command is idempotent, so a health checker can repeat it each cycle.

import type { ReportState } from '@has/traffic-manager/protocol'

export const FLAGS = ['report', 'paused', 'drain'] as const
export type Flag = (typeof FLAGS)[number]
export const FLAG_COMMANDS = ['pause', 'resume', 'drain'] as const
export type FlagCommand = (typeof FLAG_COMMANDS)[number]

const NEXT: Readonly<Record<FlagCommand, Flag>> = {
  pause: 'paused',
  resume: 'report',
  drain: 'drain',
}

export function nextFlag(_current: Flag, command: FlagCommand): Flag {
  return NEXT[command]
}

/** What the flag makes a report say; undefined: send nothing. */
export function reportFor(
  flag: Flag,
  load: number,
): { load: number; state: ReportState } | undefined {
  if (flag === 'paused') return undefined
  if (flag === 'drain') return { load: 0, state: 'drain' }
  return { load, state: 'up' }
}
