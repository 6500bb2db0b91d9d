// Watching the local traffic-manager two ways: a held-open connection to
// its control socket, whose close (the kernel closes it the instant the
// process dies, kill -9 included) is reported at once; and a `health`
// request per check interval with a short timeout, which catches a hung
// manager, a stopped data plane and services without nodes.

import { connect, type Socket } from 'node:net'
import { controlRequest, hasCode } from '@has/daemon-kit'
import type { TmHealth, Verdict } from './health.js'

export interface TmProbe {
  /** Asks `health`; the caller judges the answer. */
  health(timeoutMs: number): Promise<TmHealth | (Verdict & { ok: false })>
  /** Opens the held connection if it is not open; false when it cannot be. */
  hold(): void
  readonly holding: boolean
  close(): void
}

export function createTmProbe(opts: {
  path: string
  onLost: (detail: string) => void
}): TmProbe {
  let held: Socket | undefined
  let open = false
  let closed = false
  return {
    async health(timeoutMs) {
      try {
        return (await controlRequest(
          opts.path,
          'health',
          [],
          timeoutMs,
        )) as TmHealth
      } catch (e) {
        const code = hasCode(e) ? e.code : ''
        const detail = e instanceof Error ? e.message : String(e)
        if (code === 'KIT_ERR_CONTROL_TIMEOUT')
          return { ok: false, reason: 'tm-timeout', detail }
        if (code === 'KIT_ERR_CONTROL_UNREACHABLE')
          return { ok: false, reason: 'tm-down', detail }
        return {
          ok: false,
          reason: 'tm-error',
          detail: `${code} ${detail}`.trim(),
        }
      }
    },
    hold() {
      if (held || closed) return
      const s = connect(opts.path)
      held = s
      s.on('connect', () => (open = true))
      s.on('data', () => undefined)
      s.on('error', () => undefined)
      s.on('close', () => {
        const was = open
        open = false
        if (held === s) held = undefined
        // Only a connection that was up says the manager went away; a
        // refused connect is the `health` probe's to report.
        if (was && !closed)
          opts.onLost('traffic-manager control connection closed')
      })
    },
    get holding() {
      return open
    },
    close() {
      closed = true
      held?.destroy()
      held = undefined
    },
  }
}
