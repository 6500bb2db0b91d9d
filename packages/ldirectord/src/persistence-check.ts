// `persistent` in ldirectord.cf is applied by the traffic-manager (the
// service's own `persistent`), which ldirectord cannot set: the control
// protocol has no such command. In director mode ldirectord asks for the
// manager's `status` and warns when the two differ, so the file does not
// promise an affinity that is not in force.

import type { Logger } from '@has/daemon-kit'
import type { VirtualService } from './config.js'
import type { ControlSender } from './actions.js'

export interface PersistenceMismatch {
  readonly virtual: string
  /** ms as ldirectord.cf says (0: none). */
  readonly want: number
  /** ms as the traffic-manager runs it; null: no such service there. */
  readonly have: number | null
}

/** Pure: virtuals with `persistent` against the manager's status answer. */
export function persistenceMismatches(
  virtuals: readonly VirtualService[],
  status: unknown,
): PersistenceMismatch[] {
  const services = (status as { services?: unknown } | null)?.services
  const have = new Map<string, number>()
  if (Array.isArray(services)) {
    for (const s of services as { name?: unknown; persistentMs?: unknown }[]) {
      if (typeof s?.name === 'string')
        have.set(
          s.name,
          typeof s.persistentMs === 'number' ? s.persistentMs : 0,
        )
    }
  }
  const out: PersistenceMismatch[] = []
  for (const v of virtuals) {
    if (v.persistent === undefined) continue
    const h = have.get(v.name)
    if (h !== v.persistent)
      out.push({ virtual: v.name, want: v.persistent, have: h ?? null })
  }
  return out
}

/** Asks the traffic-manager once; logs each difference (never throws). */
export async function checkPersistence(
  address: string,
  send: ControlSender,
  virtuals: readonly VirtualService[],
  logger: Logger,
): Promise<void> {
  if (!virtuals.some(v => v.persistent !== undefined)) return
  let status: unknown
  try {
    status = await send(address, 'status', [])
  } catch (e) {
    logger.warn(
      { err: (e as Error).message },
      'cannot compare persistent with the traffic-manager',
    )
    return
  }
  for (const m of persistenceMismatches(virtuals, status)) {
    logger.warn(
      {
        virtual: m.virtual,
        persistentMs: m.want,
        trafficManagerPersistentMs: m.have,
      },
      m.have === null
        ? 'persistent is set but the traffic-manager has no such service'
        : "persistent differs from the traffic-manager's; its value is the one in force",
    )
  }
}
