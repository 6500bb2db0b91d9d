// Rate-limited warnings for dropped datagrams. Metrics alone leave a flood
// of forged or replayed packets invisible to an operator reading the logs;
// one line per datagram would let the flood fill the disk. The first drop
// after a quiet spell is logged at once, the rest are summed and logged
// once per interval with counts per reason and the busiest source, as
// keepalived and HAProxy do.

import type { Logger } from 'pino'
import { systemClock, type Clock, type Timer } from './clock.js'

export interface DropLogOptions {
  /** What is dropped, for the message ("load reports", "heartbeats"). */
  readonly what: string
  /** Summary period in ms; default 10 s. */
  readonly intervalMs?: number
  /** Distinct sources remembered per period; the rest are counted as "other". */
  readonly maxSources?: number
  /** The summary timer's clock (tests inject one). */
  readonly clock?: Clock
}

export interface DropSummary {
  readonly total: number
  readonly reasons: Record<string, number>
  readonly topSource?: string
  readonly topSourceCount?: number
  readonly sources: number
}

export interface DropLog {
  /** Count one dropped datagram; logs now or in the next summary. */
  drop(reason: string, source: string): void
  /** Log what is pending and stop the timer (daemon stop). */
  flush(): void
  close(): void
}

const DEFAULT_INTERVAL_MS = 10_000
const DEFAULT_MAX_SOURCES = 1024

export function createDropLog(log: Logger, opts: DropLogOptions): DropLog {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS
  const maxSources = opts.maxSources ?? DEFAULT_MAX_SOURCES
  const clock = opts.clock ?? systemClock
  // Map, not an object: reasons and sources come from outside.
  let reasons = new Map<string, number>()
  let sources = new Map<string, number>()
  let total = 0
  let timer: Timer | null = null

  const summary = (): DropSummary => {
    let topSource: string | undefined
    let topSourceCount = 0
    for (const [s, n] of sources)
      if (n > topSourceCount) {
        topSource = s
        topSourceCount = n
      }
    return {
      total,
      reasons: Object.fromEntries(reasons),
      ...(topSource === undefined ? {} : { topSource, topSourceCount }),
      sources: sources.size,
    }
  }

  const emit = (): void => {
    timer = null
    if (total === 0) return
    const s = summary()
    log.warn(
      {
        dropped: s.reasons,
        total: s.total,
        topSource: s.topSource,
        topSourceCount: s.topSourceCount,
        sources: s.sources,
        periodMs: intervalMs,
      },
      `${opts.what}: dropped ${s.total} in the last ${intervalMs / 1000} s`,
    )
    reasons = new Map()
    sources = new Map()
    total = 0
    // Keep summarising while drops go on; a quiet period ends the cycle so
    // the next drop is reported at once again.
    arm()
  }

  const arm = (): void => {
    // A summary alone must not keep a stopping daemon alive.
    timer = clock.after(intervalMs, emit, { background: true })
  }

  return {
    drop(reason, source) {
      if (timer === null) {
        log.warn(
          { reason, source },
          `${opts.what}: dropped one (${reason}); further drops within ${intervalMs / 1000} s are summed`,
        )
        arm()
        return
      }
      total++
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
      if (sources.has(source) || sources.size < maxSources)
        sources.set(source, (sources.get(source) ?? 0) + 1)
      else sources.set('other', (sources.get('other') ?? 0) + 1)
    },
    flush() {
      timer?.cancel()
      emit()
      timer?.cancel()
      timer = null
    },
    close() {
      timer?.cancel()
      timer = null
    },
  }
}
