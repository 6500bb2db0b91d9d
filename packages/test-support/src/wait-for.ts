// The one way tests wait: poll a predicate with a bound, and on time-out
// fail with a message naming what was awaited (and the last error the
// probe threw), so a red test says what never happened. The poll loop
// stops when the wait ends, either way.

export interface WaitForOptions {
  /** What is awaited, for the failure message: "node 10.0.0.2 up". */
  readonly what: string
  /** Bound of the wait, ms (default 5000). */
  readonly timeoutMs?: number
  /** Pause between probes, ms (default 20). */
  readonly intervalMs?: number
}

/**
 * Resolves with the probe's first result that is not false, null or
 * undefined (0 and '' are values). A probe that throws counts as "not
 * yet"; its last error is part of the time-out message.
 */
export async function waitFor<T>(
  probe: () =>
    T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitForOptions,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 5000
  const intervalMs = opts.intervalMs ?? 20
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== null && v !== false) return v
    } catch (e) {
      last = e
    }
    if (performance.now() >= deadline) {
      const why = last === undefined ? '' : `; last error: ${String(last)}`
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.what}${why}`,
      )
    }
    await new Promise(r => setTimeout(r, intervalMs))
  }
}

/**
 * Races a promise against a bound: resolves with its value, or rejects
 * naming `what`. The timer is cleared either way.
 */
export async function within<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}`),
        ),
      timeoutMs,
    )
  })
  try {
    return await Promise.race([promise, bound])
  } finally {
    clearTimeout(timer)
  }
}
