// Which steps a reload takes for the virtual services, and how each is
// undone. All or nothing (README "Reload"): every step that can fail runs
// before anything running is taken down; a failure undoes the steps taken,
// and what only the new config's success may do (closing replaced
// listeners) waits for commit.

import type { Logger } from '@has/daemon-kit/core'
import type { TmConfig } from './config.js'
import { tmError } from './errors.js'
import type { Factories, ServiceSet } from './service-set.js'

type Step = () => Promise<unknown>

/** Undo steps run in reverse on failure; commit steps only on success. */
export class Transaction {
  readonly #undo: Step[] = []
  readonly #commit: Step[] = []
  constructor(private readonly log: Logger) {}

  onUndo(step: Step): void {
    this.#undo.push(step)
  }

  onCommit(step: Step): void {
    this.#commit.push(step)
  }

  async rollback(): Promise<void> {
    for (const u of this.#undo.reverse()) {
      await u().catch((err: unknown) =>
        this.log.error({ err }, 'reload rollback step failed'),
      )
    }
  }

  /** Nothing here can fail the reload: errors are logged. */
  commit(): void {
    for (const c of this.#commit)
      void c().catch((err: unknown) =>
        this.log.error({ err }, 'closing a replaced listener failed'),
      )
  }
}

/**
 * An inherited socket is never closed by a reload: this process could not
 * get it back (the service manager passes it only at start).
 */
export function checkInherited(set: ServiceSet, next: TmConfig): void {
  for (const r of set.services.values()) {
    const from = set.inheritedFor(r.cfg)
    if (!from) continue
    const s = next.services.find(x => x.name === r.cfg.name)
    if (!s || set.inheritedFor(s)?.fd !== from.fd) {
      throw tmError(
        'TM_ERR_INHERITED',
        r.cfg.name,
        `fd ${from.fd}, ${from.name}`,
      )
    }
  }
}

/** Moves the running services to `next`; a service whose address stays keeps its listener. */
export async function reloadServices(
  set: ServiceSet,
  next: TmConfig,
  f: Factories,
  tx: Transaction,
  log: Logger,
): Promise<void> {
  const wanted = new Map(next.services.map(s => [s.name, s]))
  const before = new Map(set.services)
  // New addresses first: a port held by another process fails here,
  // with nothing running touched yet.
  for (const s of next.services) {
    if (before.has(s.name)) continue
    const r = await set.start(s, f)
    tx.onUndo(() => set.stop(r))
  }
  for (const r of before.values()) {
    const s = wanted.get(r.cfg.name)
    const old = r.cfg
    if (!s) {
      tx.onCommit(() => {
        log.info(
          { service: old.name },
          'virtual service removed; its open connections finish',
        )
        return set.stop(r)
      })
    } else if (set.same(old, s)) {
      r.cfg = s
      tx.onUndo(async () => void (r.cfg = old))
    } else if (r.dp?.reconfigure && old.dataplane === s.dataplane) {
      await r.dp.reconfigure(set.optionsFor(s))
      r.cfg = s
      const dp = r.dp
      tx.onUndo(async () => {
        r.cfg = old
        await dp.reconfigure?.(set.optionsFor(old))
      })
      log.info(
        { service: s.name, scheduler: s.scheduler },
        'virtual service reconfigured; listener kept',
      )
    } else if (old.dataplane !== s.dataplane) {
      // Another data plane: start it beside the old one (they do not
      // share a socket), then let the old one drain.
      const fresh = await set.start(s, f)
      tx.onUndo(async () => {
        set.services.set(old.name, r)
        await set.stop(fresh)
      })
      tx.onCommit(() => set.stop(r))
    } else {
      // Same data plane without in-place changes (kernel rules named
      // after the service): replace it, and put it back on failure.
      await set.stop(r)
      try {
        const fresh = await set.start(s, f)
        tx.onUndo(async () => {
          await set.stop(fresh)
          await set.start(old, f)
        })
      } catch (e) {
        await set
          .start(old, f)
          .catch((err: unknown) =>
            log.error(
              { err, service: old.name },
              'could not restore the previous virtual service',
            ),
          )
        throw e
      }
    }
  }
}
