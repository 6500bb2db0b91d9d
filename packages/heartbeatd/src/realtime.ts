// ha.cf `realtime on` (heartbeat's default): millisecond heartbeats must not
// wait behind CPU hogs. SCHED_RR for every thread of this process via
// util-linux chrt (Node has no sched_setscheduler); if that is refused, at
// least the highest nice priority we may take.

import { execFile } from 'node:child_process'
import { setPriority } from 'node:os'
import type { Logger } from '@has/daemon-kit'

export const REALTIME_PRIORITY = 50

export function applyRealtime(log: Logger): Promise<'rr' | 'nice' | 'none'> {
  return new Promise(resolve => {
    execFile(
      'chrt',
      ['-a', '-r', '-p', String(REALTIME_PRIORITY), String(process.pid)],
      err => {
        if (!err) {
          log.info(
            { policy: 'SCHED_RR', priority: REALTIME_PRIORITY },
            'realtime scheduling',
          )
          resolve('rr')
          return
        }
        try {
          setPriority(-10)
          log.warn(
            { err: err.message },
            'no realtime scheduling (needs root or CAP_SYS_NICE); nice -10 instead',
          )
          resolve('nice')
        } catch {
          log.warn(
            { err: err.message },
            'no realtime scheduling and no nice: heartbeats may be late under load',
          )
          resolve('none')
        }
      },
    )
  })
}
