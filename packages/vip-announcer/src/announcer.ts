// The library entry: createVipAnnouncer({ config, logger }) probes the
// local traffic-manager, runs the health state machine and keeps BIRD's
// VIP protocols enabled exactly while the machine says "announced".
// Stop (SIGTERM) withdraws first, then waits `drain` so packets already on
// their way to this master are still forwarded while the router moves the
// flows to the other masters.

import {
  silentLogger,
  hasCode,
  type Logger,
  type Registry,
  type Service,
  type ControlHandlers,
} from '@has/daemon-kit'
import type { AnnouncerConfig } from './config.js'
import { createBirdClient, type BirdClient } from './bird-client.js'
import {
  formatCommand,
  isError,
  parseProtocolRows,
  toggleOutcome,
} from './bird-codec.js'
import { vaError } from './errors.js'
import {
  HealthMachine,
  judge,
  type Transition,
  type Verdict,
} from './health.js'
import { createMetrics } from './metrics.js'
import { createTmProbe, type TmProbe } from './tm-probe.js'

export interface VipAnnouncerOptions {
  readonly config: AnnouncerConfig
  readonly logger?: Logger
  readonly registry?: Registry
  readonly now?: () => number
}

export interface VipAnnouncer extends Service<AnnouncerConfig> {
  readonly registry: Registry
  readonly commands: ControlHandlers
}

/** A repeated error is logged again only after this long. */
const ERROR_LOG_EVERY_MS = 10_000
/** BIRD is asked again for the state it should have this often. */
const REASSERT_MS = 1000

export async function createVipAnnouncer(
  opts: VipAnnouncerOptions,
): Promise<VipAnnouncer> {
  const log = opts.logger ?? silentLogger()
  const now = opts.now ?? Date.now
  const metrics = createMetrics(opts.registry)
  let config = opts.config
  const machine = new HealthMachine(config.settleMs, now())
  let bird: BirdClient = createBirdClient({
    path: config.birdSocket,
    timeoutMs: config.birdTimeoutMs,
  })
  /** What BIRD confirmed per protocol (true = enabled); absent = unknown. */
  const applied = new Map<string, boolean>()
  const verified = new Set<string>()
  let lastVerdict: Verdict = {
    ok: false,
    reason: 'starting',
    detail: 'no probe yet',
  }
  let failSeenAt: number | undefined
  let lastWithdrawMs: number | undefined
  let stopped = false
  metrics.announced.set(0)

  const lastLogged = new Map<string, { text: string; at: number }>()
  const logError = (key: string, e: unknown): void => {
    const text = e instanceof Error ? e.message : String(e)
    const prev = lastLogged.get(key)
    if (prev && prev.text === text && now() - prev.at < ERROR_LOG_EVERY_MS)
      return
    lastLogged.set(key, { text, at: now() })
    log.error(
      { code: hasCode(e) ? e.code : undefined, err: text },
      `${key}: ${text}`,
    )
  }

  const verify = async (p: string): Promise<boolean> => {
    if (verified.has(p)) return true
    const r = await bird.command(formatCommand('show protocols', p))
    metrics.birdCommands.inc({
      command: 'show',
      result: isError(r) ? 'error' : 'unchanged',
    })
    if (isError(r))
      throw vaError(
        'VA_ERR_BIRD_REFUSED',
        `show protocols "${p}"`,
        r.code,
        r.text,
      )
    const row = parseProtocolRows(r).find(x => x.name === p)
    if (!row || row.proto !== 'Static')
      throw vaError('VA_ERR_NOT_STATIC', p, row?.proto ?? 'missing')
    verified.add(p)
    return true
  }

  const doSync = async (): Promise<void> => {
    if (!bird.connected) {
      applied.clear()
      verified.clear()
    }
    const want = machine.announce
    for (const p of config.protocols) {
      if (applied.get(p) === want) continue
      const command = want ? 'enable' : 'disable'
      try {
        if (want) await verify(p)
        const r = await bird.command(formatCommand(command, p))
        const result = toggleOutcome(r, command)
        metrics.birdCommands.inc({ command, result })
        if (result === 'error')
          throw vaError(
            'VA_ERR_BIRD_REFUSED',
            `${command} "${p}"`,
            r.code,
            r.text,
          )
        applied.set(p, want)
        if (result === 'changed')
          log.info({ protocol: p, command }, `BIRD protocol ${p} ${command}d`)
      } catch (e) {
        if (!hasCode(e) || e.code !== 'VA_ERR_BIRD_REFUSED')
          metrics.birdCommands.inc({ command, result: 'error' })
        applied.delete(p)
        logError(`bird ${p}`, e)
      }
    }
    const all = config.protocols.every(p => applied.get(p) === want)
    metrics.announced.set(want && all ? 1 : 0)
    if (!want && all && failSeenAt !== undefined) {
      lastWithdrawMs = now() - failSeenAt
      metrics.withdrawSeconds.set(lastWithdrawMs / 1000)
      log.info(
        { ms: lastWithdrawMs, reason: machine.reason },
        'routes withdrawn',
      )
      failSeenAt = undefined
    }
  }
  // One sync at a time; at most one more queued (it reads the state when it runs).
  let running: Promise<void> = Promise.resolve()
  let queued: Promise<void> | undefined
  const sync = (): Promise<void> => {
    if (queued) return queued
    const next = running.then(() => {
      queued = undefined
      return doSync()
    })
    queued = next
    running = next.catch(() => undefined)
    return next
  }

  const onTransition = (t: Transition | undefined): void => {
    if (!t) return
    metrics.transitions.inc({ to: t.to, reason: t.reason })
    const level =
      t.to === 'withdrawn' && t.from === 'announced' ? 'warn' : 'info'
    log[level](
      { from: t.from, to: t.to, reason: t.reason, detail: t.detail },
      `state ${t.to}`,
    )
    if (t.to === 'announced')
      log.info({ protocols: config.protocols }, 'routes announced')
    if (t.from === 'announced' || t.from === 'settling') failSeenAt = now()
    void sync()
  }
  const onVerdict = (v: Verdict): void => {
    lastVerdict = v
    metrics.probes.inc({ result: v.ok ? 'ok' : v.reason })
    onTransition(machine.observe(v, now()))
  }

  const makeProbe = (): TmProbe =>
    createTmProbe({
      path: config.trafficManager,
      onLost: detail => onVerdict({ ok: false, reason: 'tm-down', detail }),
    })
  let tm = makeProbe()

  let probing = false
  const tick = async (): Promise<void> => {
    if (probing || stopped) return
    probing = true
    try {
      tm.hold()
      const r = await tm.health(config.checkTimeoutMs)
      if (stopped) return
      onVerdict('services' in r ? judge(r, config) : r)
      if (!bird.connected && applied.size) void sync()
    } finally {
      probing = false
    }
  }
  let timer = setInterval(() => void tick(), config.checkIntervalMs)
  const reassert = setInterval(() => {
    applied.clear()
    void sync()
  }, REASSERT_MS)
  // BIRD keeps its state across our restarts: start from "withdrawn".
  void sync()
  void tick()

  const commands: ControlHandlers = {
    drain: () => {
      onTransition(machine.drain(now()))
      return sync().then(() => ({ state: machine.state }))
    },
    resume: () => {
      onTransition(machine.resume(now()))
      return { state: machine.state }
    },
  }

  return {
    registry: metrics.registry,
    commands,
    async reload(next) {
      const removed = config.protocols.filter(p => !next.protocols.includes(p))
      for (const p of removed) {
        // Withdraw what we stop managing, or refuse the whole reload.
        const r = await bird.command(formatCommand('disable', p))
        if (toggleOutcome(r, 'disable') === 'error')
          throw vaError('VA_ERR_BIRD_REFUSED', `disable "${p}"`, r.code, r.text)
      }
      if (
        next.birdSocket !== config.birdSocket ||
        next.birdTimeoutMs !== config.birdTimeoutMs
      ) {
        bird.close()
        bird = createBirdClient({
          path: next.birdSocket,
          timeoutMs: next.birdTimeoutMs,
        })
      }
      if (next.trafficManager !== config.trafficManager) {
        tm.close()
        config = next
        tm = makeProbe()
      }
      if (next.checkIntervalMs !== config.checkIntervalMs) {
        clearInterval(timer)
        timer = setInterval(() => void tick(), next.checkIntervalMs)
      }
      machine.setSettle(next.settleMs)
      config = next
      applied.clear()
      verified.clear()
      await sync()
    },
    async close() {
      stopped = true
      clearInterval(timer)
      clearInterval(reassert)
      onTransition(machine.drain(now()))
      await sync()
      log.info(
        { drainMs: config.drainMs },
        'routes withdrawn; draining before exit',
      )
      await new Promise(r => setTimeout(r, config.drainMs))
      tm.close()
      bird.close()
    },
    status() {
      return {
        config: config.file,
        state: machine.state,
        since: new Date(machine.since).toISOString(),
        reason: machine.reason,
        detail: machine.detail,
        announced:
          machine.announce &&
          config.protocols.every(p => applied.get(p) === true),
        protocols: config.protocols.map(p => ({
          name: p,
          bird: applied.has(p)
            ? applied.get(p)
              ? 'enabled'
              : 'disabled'
            : 'unknown',
        })),
        bird: { socket: config.birdSocket, connected: bird.connected },
        trafficManager: {
          socket: config.trafficManager,
          connected: tm.holding,
          last: lastVerdict,
        },
        lastWithdrawMs: lastWithdrawMs ?? null,
      }
    },
  }
}
