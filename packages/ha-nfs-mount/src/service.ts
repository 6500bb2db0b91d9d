// The library entry: createHaNfsMount({ config, logger }) starts every
// mount and sync of a config and returns a kit Service (status, reload,
// close, metrics). Mount lines (with their failures and failback hold),
// sync lines, the mounter and the staging dir are fixed for the life of
// the process; probe and sync timings reload.

import { silentLogger, type Logger, type Service } from '@has/daemon-kit'
import type { HnmConfig } from './config.js'
import { HaMount, type HaMountStatus, type MountClock } from './ha-mount.js'
import { createMetrics, type HnmMetrics } from './metrics.js'
import { createMounter, MountOps, type Mounter } from './mounter.js'
import { Syncer, type SyncStatus } from './sync.js'
import { execCommand } from './exec.js'
import { hnmError } from './errors.js'

export interface HaNfsMountOptions {
  readonly config: HnmConfig
  readonly logger?: Logger
  /** Replace the mounter chosen by the config (library users, tests). */
  readonly mounter?: Mounter
  /** Replace the mount-table commands (tests without root). */
  readonly ops?: MountOps
  readonly metrics?: HnmMetrics
  readonly clock?: MountClock
}

export interface HaNfsMountStatus {
  readonly mounts: readonly HaMountStatus[]
  readonly syncs: readonly SyncStatus[]
}

export interface HaNfsMount extends Service<HnmConfig> {
  status(): HaNfsMountStatus
}

/** The part of a config that cannot change without a restart. */
function topology(c: HnmConfig): string {
  return JSON.stringify({
    mounts: c.mounts.map(m => ({ ...m, line: 0 })),
    syncs: c.syncs.map(s => [s.source, s.target]),
    mounter: c.mounter,
    stagingDir: c.stagingDir,
    bindMap: c.bindMap,
  })
}

export async function createHaNfsMount(
  opts: HaNfsMountOptions,
): Promise<HaNfsMount> {
  const config = opts.config
  const logger = opts.logger ?? silentLogger()
  const metrics = opts.metrics ?? createMetrics()
  const ops = opts.ops ?? new MountOps(config.mountTimeout)
  const mounter = opts.mounter ?? createMounter(config, ops)

  if (config.mounts.length) await mounter.preflight()
  if (config.syncs.length) {
    const r = await execCommand(config.rsyncPath, ['--version'], 10_000)
    if (r.spawnError || r.code !== 0) {
      throw hnmError(
        'HNM_ERR_RSYNC_MISSING',
        config.rsyncPath,
        r.spawnError ?? `exit ${r.code}`,
      )
    }
  }

  const mounts: HaMount[] = []
  const syncs: Syncer[] = []
  const closeAll = async (): Promise<void> => {
    await Promise.all(syncs.map(s => s.close()))
    for (const m of mounts) await m.close()
  }
  try {
    for (const spec of config.mounts) {
      const m = new HaMount(
        spec,
        config,
        mounter,
        ops,
        metrics,
        logger,
        opts.clock,
      )
      mounts.push(m)
      await m.start()
    }
    for (const spec of config.syncs) {
      const s = new Syncer(spec, config, metrics, logger)
      syncs.push(s)
      await s.start()
    }
  } catch (e) {
    await closeAll()
    throw e
  }

  let current = config
  return {
    registry: metrics.registry,
    status: () => ({
      mounts: mounts.map(m => m.status()),
      syncs: syncs.map(s => s.status()),
    }),
    reload(next: HnmConfig) {
      if (topology(next) !== topology(current)) {
        throw hnmError(
          'HNM_ERR_RELOAD_RESTART',
          'mount lines, sync lines, failures, failback-hold, rpc-versions, rpc-port, mounter, bind-map and staging-dir',
        )
      }
      current = next
      ops.timeoutMs = next.mountTimeout
      for (const m of mounts) m.update(next)
      for (const s of syncs) s.update(next)
    },
    close: closeAll,
  }
}
