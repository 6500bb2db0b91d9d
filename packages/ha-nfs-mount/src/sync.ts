// One-way content sync of an export to its twin: chokidar watches the
// source, changes are batched for `sync-delay`, then one rsync pass runs.
// Passes never overlap; changes seen during a pass schedule another. A
// failed pass (target down, disk full) is retried with back-off, and the
// retry is a whole-tree pass, so changes made during an outage are never
// lost: the copies cannot drift apart silently.

import { watch, type FSWatcher } from 'chokidar'
import type { Logger } from '@has/daemon-kit'
import type { HnmConfig, SyncSpec } from './config.js'
import type { HnmMetrics } from './metrics.js'
import { execCommand } from './exec.js'
import { hnmError } from './errors.js'
import { backoffMs, rsyncArgs, rsyncSucceeded } from './rsync-args.js'
import { checkSource } from './source-guard.js'
import { probeTarget, targetEndpoint } from './target-probe.js'

export interface SyncStatus {
  readonly source: string
  readonly target: string
  readonly state: 'starting' | 'idle' | 'pending' | 'running' | 'retrying'
  readonly passes: number
  readonly failures: number
  readonly consecutiveFailures: number
  readonly lastError: string | null
  readonly lastSuccess: string | null
  readonly lastLagMs: number | null
  readonly pendingMs: number | null
  readonly nextRetryMs: number | null
}

export class Syncer {
  readonly spec: SyncSpec
  #config: HnmConfig
  readonly #log: Logger
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined
  #pendingSince: number | null = null
  /** Start of the batch a running pass is copying: still not on the target. */
  #inFlightSince: number | null = null
  #running: Promise<void> | null = null
  #state: SyncStatus['state'] = 'starting'
  #passes = 0
  #failures = 0
  #consecutive = 0
  #lastError: string | null = null
  #lastSuccess: string | null = null
  #lastLagMs: number | null = null
  #retryAt: number | null = null
  #closed = false
  readonly #labels: { source: string; target: string }

  constructor(
    spec: SyncSpec,
    config: HnmConfig,
    readonly metrics: HnmMetrics,
    logger: Logger,
  ) {
    this.spec = spec
    this.#config = config
    this.#labels = { source: spec.source, target: spec.target }
    this.#log = logger.child({
      component: 'sync',
      source: spec.source,
      target: spec.target,
    })
  }

  /** Starts watching, then runs the initial full pass (awaited). */
  async start(): Promise<void> {
    const watcher = watch(this.spec.source, {
      ignoreInitial: true,
      persistent: true,
    })
    this.#watcher = watcher
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', resolve)
      watcher.once('error', reject)
    })
    watcher.on('all', () => this.#changed())
    watcher.on('error', err =>
      this.#log.warn({ err }, 'watch error; the next pass covers it'),
    )
    this.#pendingSince = performance.now()
    await this.#pass()
  }

  update(config: HnmConfig): void {
    this.#config = config
  }

  #changed(): void {
    if (this.#closed) return
    this.#pendingSince ??= performance.now()
    // While running or backing off, the pending mark is picked up later.
    if (this.#running || this.#retryAt !== null) return
    this.#state = 'pending'
    if (!this.#timer)
      this.#timer = setTimeout(() => void this.#pass(), this.#config.syncDelay)
  }

  #pass(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#retryAt = null
    if (this.#closed) return Promise.resolve()
    this.#running ??= this.#runOnce().finally(() => {
      this.#running = null
      this.#afterPass()
    })
    return this.#running
  }

  async #runOnce(): Promise<void> {
    const batchStart = this.#pendingSince ?? performance.now()
    this.#pendingSince = null
    this.#inFlightSince = batchStart
    this.#state = 'running'
    this.#passes++
    const args = rsyncArgs({
      source: this.spec.source,
      target: this.spec.target,
      ioTimeoutS: 30,
      connectTimeoutS: Math.max(
        1,
        Math.ceil(this.#config.syncConnectTimeout / 1000),
      ),
      extra: this.#config.rsyncArgs,
    })
    const verdict = await checkSource(this.spec.source, this.spec.target)
    const ep = verdict === 'sync' ? targetEndpoint(this.spec.target) : undefined
    const unreachable =
      ep && (await probeTarget(ep, this.#config.syncConnectTimeout))
    const r =
      verdict === 'sync' && !unreachable
        ? await execCommand(this.#config.rsyncPath, args, 10 * 60_000)
        : {
            code: null,
            timedOut: false,
            ms: 0,
            stderr: '',
            spawnError: undefined,
          }
    this.#inFlightSince = null
    if (
      verdict !== 'refuse' &&
      !unreachable &&
      !r.timedOut &&
      rsyncSucceeded(r.code)
    ) {
      const lag = performance.now() - batchStart
      this.#lastLagMs = lag
      this.#consecutive = 0
      this.#lastError = null
      this.#lastSuccess = new Date().toISOString()
      this.metrics.syncRuns.inc({ ...this.#labels, result: 'ok' })
      this.metrics.syncLag.set(this.#labels, lag / 1000)
      this.metrics.syncLastSuccess.set(this.#labels, Date.now() / 1000)
      this.metrics.syncFailures.set(this.#labels, 0)
      this.#log.info(
        { event: 'synced', lagMs: Math.round(lag), rsyncMs: Math.round(r.ms) },
        'sync pass done',
      )
      return
    }
    // Failed: the batch is still pending, from its original start.
    this.#pendingSince = Math.min(batchStart, this.#pendingSince ?? Infinity)
    this.#consecutive++
    this.#failures++
    const refused = verdict === 'refuse'
    const why = refused
      ? 'source is empty, target is not: refused (is the source mounted?)'
      : unreachable && ep
        ? `target unreachable: ${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}: ${unreachable}`
        : r.spawnError
          ? `cannot run ${this.#config.rsyncPath}: ${r.spawnError}`
          : r.timedOut
            ? 'rsync timed out'
            : `exit ${r.code}: ${lastLine(r.stderr)}`
    this.#lastError = why
    this.metrics.syncRuns.inc({ ...this.#labels, result: 'failed' })
    this.metrics.syncFailures.set(this.#labels, this.#consecutive)
    const wait = backoffMs(
      this.#consecutive,
      this.#config.syncRetryMin,
      this.#config.syncRetryMax,
    )
    this.#retryAt = performance.now() + wait
    this.#log.warn(
      {
        event: 'sync-failed',
        err: refused
          ? hnmError(
              'HNM_ERR_SYNC_SOURCE_EMPTY',
              this.spec.source,
              this.spec.target,
            )
          : hnmError(
              'HNM_ERR_SYNC_FAILED',
              this.spec.source,
              this.spec.target,
              r.code ?? 'none',
              why,
            ),
        consecutiveFailures: this.#consecutive,
        retryInMs: wait,
      },
      'sync pass failed; retrying with a full pass',
    )
  }

  #afterPass(): void {
    if (this.#closed) return
    if (this.#retryAt !== null) {
      this.#state = 'retrying'
      this.#timer = setTimeout(
        () => void this.#pass(),
        Math.max(0, this.#retryAt - performance.now()),
      )
    } else if (this.#pendingSince !== null) {
      this.#state = 'pending'
      this.#timer = setTimeout(() => void this.#pass(), this.#config.syncDelay)
    } else {
      this.#state = 'idle'
    }
    this.metrics.syncPendingAge.set(this.#labels, this.#pendingAge() / 1000)
  }

  /** Oldest change not yet on the target, whether waiting or being copied. */
  #oldestPending(): number | null {
    if (this.#pendingSince === null) return this.#inFlightSince
    if (this.#inFlightSince === null) return this.#pendingSince
    return Math.min(this.#pendingSince, this.#inFlightSince)
  }

  #pendingAge(): number {
    const since = this.#oldestPending()
    return since === null ? 0 : performance.now() - since
  }

  status(): SyncStatus {
    this.metrics.syncPendingAge.set(this.#labels, this.#pendingAge() / 1000)
    return {
      source: this.spec.source,
      target: this.spec.target,
      state: this.#state,
      passes: this.#passes,
      failures: this.#failures,
      consecutiveFailures: this.#consecutive,
      lastError: this.#lastError,
      lastSuccess: this.#lastSuccess,
      lastLagMs: this.#lastLagMs === null ? null : Math.round(this.#lastLagMs),
      pendingMs:
        this.#oldestPending() === null ? null : Math.round(this.#pendingAge()),
      nextRetryMs:
        this.#retryAt === null
          ? null
          : Math.max(0, Math.round(this.#retryAt - performance.now())),
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    await this.#watcher?.close()
    await this.#running
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? ''
}
