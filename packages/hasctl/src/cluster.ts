// One round of reading: every known daemon's local control socket and every
// remote listener, all at once, each bounded by the timeout.

import { join } from 'node:path'
import { defaultControlPath } from '@has/daemon-kit'
import { DAEMONS, type DaemonName } from './daemons.js'
import { readLocal, readRemote, type Reading } from './collect.js'
import { buildView, type ClusterView } from './view.js'

export interface ClusterSources {
  /** Socket per daemon; missing ones use controlDir or the daemon's default. */
  readonly controls?: Readonly<Partial<Record<DaemonName, string>>>
  /** Look for `<dir>/<daemon>.sock` instead of the default paths. */
  readonly controlDir?: string
  /** Other masters' daemon --metrics listeners, host:port. */
  readonly remotes?: readonly string[]
  readonly timeoutMs: number
}

export function controlAddress(d: DaemonName, s: ClusterSources): string {
  return (
    s.controls?.[d] ??
    (s.controlDir ? join(s.controlDir, `${d}.sock`) : defaultControlPath(d))
  )
}

export async function readCluster(s: ClusterSources): Promise<Reading[]> {
  return Promise.all([
    ...DAEMONS.map(d => readLocal(d, controlAddress(d, s), s.timeoutMs)),
    ...(s.remotes ?? []).map(r => readRemote(r, s.timeoutMs)),
  ])
}

export async function clusterView(s: ClusterSources): Promise<ClusterView> {
  return buildView(await readCluster(s))
}
