// Wires the pure parts to the world: UDP paths, ping processes, resource
// agents, the event server, timers and metrics. createHeartbeatd is the
// library entry; runDaemon (cli.ts) adds signals, control socket, /metrics.

import { systemClock, type Clock, type Timer } from '@has/daemon-kit'
import { mkdirSync } from 'node:fs'
import {
  Registry,
  ReplayGuard,
  createDropLog,
  silentLogger,
  type Logger,
  type Service,
} from '@has/daemon-kit'
import { join } from 'node:path'
import {
  BUILTIN_RESOURCE_DIR,
  restartOnlyChanges,
  type Config,
} from './config.js'
import { hbError } from './errors.js'
import { decodeHeartbeat, encodeHeartbeat, type Via } from './packet.js'
import {
  classify,
  resolvePaths,
  type Interfaces,
  type PathSpec,
} from './paths.js'
import {
  Membership,
  type Action,
  type MemberEvent,
  type MembershipView,
} from './membership.js'
import { openTransport, type Transport } from './transport.js'
import { hostInterfaces } from './interfaces.js'
import { startPinger, type Pinger } from './pinger.js'
import { startEventServer, type EventServer } from './event-server.js'
import type { ServerLine } from './event-protocol.js'
import { applyRealtime } from './realtime.js'
import { createCounters, registerGauges } from './metrics.js'
import {
  createAgentRunner,
  startGroup,
  stopGroup,
  type AgentResult,
  type AgentRunner,
} from './resources.js'
import {
  createNativeIpaddr,
  parseVipSpec,
  type NativeIpaddr,
} from './ipaddr-native.js'
import { routeDevice, startArpArbiter, type ArpArbiter } from './arp-arbiter.js'

// Times are read from process start (performance.now()), as before the
// kit's Clock existed: only differences are used, and small numbers read
// better in debug logs of the takeover path.
const processClock: Clock = { ...systemClock, now: () => performance.now() }

// setImmediate runs after this loop turn's poll phase, which reads every
// datagram the kernel already holds.
const afterPoll = (fn: () => void): void => void setImmediate(fn)

export interface HeartbeatdOptions {
  readonly config: Config
  readonly logger?: Logger
  readonly registry?: Registry
  readonly clock?: Clock
  /**
   * Runs fn after the datagrams already received have been handled
   * (default: setImmediate); a test clock passes its own or none.
   */
  readonly afterIo?: (fn: () => void) => void
  /** Interface table (tests); default: the host's, no-carrier links too. */
  readonly interfaces?: Interfaces
  /** Run the shipped IPaddr in-process (long-lived helpers); default true. */
  readonly nativeIpaddr?: boolean
  /**
   * Sender generation for this start (PROTOCOL.md `gen`); the CLI passes
   * daemon-kit senderEpoch(), which never goes backwards. Default: now.
   */
  readonly generation?: number
  /** Watch the IPv4 VIPs on the LAN (libexec/hb-arpwatch); default true. */
  readonly arbiter?: boolean
}

/** Largest `gen` the wire allows (1-15 decimal digits). */
export const MAX_GENERATION = 999_999_999_999_999

export type DropReason =
  'malformed' | 'forged' | 'replay' | 'stale' | 'unknown-node' | 'unknown-path'

/** `status` (control socket, USR1): membership plus the daemon's counters. */
export type HeartbeatdStatus = MembershipView & {
  generation: number
  seq: number
  dropped: Record<string, number>
  eventClients: number
  keepalive: number
  deadtime: number
  deadtimeMax: number
}

export interface Heartbeatd extends Service<Config, HeartbeatdStatus> {
  readonly eventAddress: { host: string; port: number }
  readonly paths: readonly PathSpec[]
}

export async function createHeartbeatd(
  opts: HeartbeatdOptions,
): Promise<Heartbeatd> {
  let config = opts.config
  const log = (opts.logger ?? silentLogger()).child({ component: 'heartbeatd' })
  const clock = opts.clock ?? processClock
  const afterIo = opts.afterIo ?? (opts.clock ? undefined : afterPoll)
  const registry = opts.registry ?? new Registry()
  const ifaces = opts.interfaces ?? (await hostInterfaces())
  const { paths, missing } = resolvePaths(config.media, config.udpport, ifaces)
  if (missing[0])
    throw hbError('HB_ERR_INTERFACE', missing[0].iface, missing[0].where)

  const m = createCounters(registry)
  const drops: Record<string, number> = {}
  // Metrics alone leave a flood of forged or replayed heartbeats invisible
  // in the logs: a warning at once, then one summary per 10 s.
  const dropLog = createDropLog(log, { what: 'heartbeats', clock })
  const drop = (reason: DropReason, source: string): void => {
    m.dropped.inc({ reason })
    drops[reason] = (drops[reason] ?? 0) + 1
    dropLog.drop(reason, source)
  }

  if (config.realtime) await applyRealtime(log)

  // The shipped IPaddr runs in-process through two helpers started now
  // (after realtime: they inherit it), so a takeover forks nothing.
  const agentEnv = (c: Config) => ({
    HA_RSCTMP: c.stateDir,
    HA_NODE: c.localNode,
  })
  const native: NativeIpaddr | undefined =
    opts.nativeIpaddr === false
      ? undefined
      : createNativeIpaddr({ env: agentEnv(config) })
  native?.warm()
  const makeRunner = (c: Config): AgentRunner =>
    createAgentRunner({
      agents: c.agents,
      env: agentEnv(c),
      ...(native
        ? {
            native: {
              IPaddr: {
                script: join(BUILTIN_RESOURCE_DIR, 'IPaddr'),
                agent: native,
              },
            },
          }
        : {}),
    })

  // Leftovers of a crashed run (a VIP still configured) must go before we
  // decide anything: stop every group, as heartbeat does at start.
  mkdirSync(config.stateDir, { recursive: true })
  let runner: AgentRunner = makeRunner(config)
  for (const g of [...config.groups].reverse()) await stopGroup(g, runner, log)

  let gen = opts.generation ?? Date.now()
  if (!Number.isSafeInteger(gen) || gen < 1 || gen > MAX_GENERATION) {
    log.warn(
      { generation: gen },
      'generation outside 1-15 digits; using the clock',
    )
    gen = Date.now()
  }
  let seq = 0
  const membership = new Membership({
    self: config.localNode,
    peer: config.peerNode,
    groups: config.groups.map(g => ({ name: g.name, home: g.home })),
    paths: paths.map(p => p.name),
    deadtime: config.deadtime,
    deadtimeMax: config.deadtimeMax,
    warntime: config.warntime,
    initdead: config.initdead,
    autoFailback: config.autoFailback,
    pingTotal: config.ping.length,
    now: clock.now(),
  })
  const guard = new ReplayGuard()

  // The LAN arbiter watches every IPv4 address of an IPaddr resource.
  const vipGroups = new Map<string, string[]>()
  const watch = new Map<string, string>()
  if (opts.arbiter !== false) {
    for (const g of config.groups) {
      for (const r of g.resources) {
        const v =
          r.agent === 'IPaddr' && r.args.length === 1
            ? parseVipSpec(r.args[0] as string)
            : undefined
        if (!v || v.v6) continue
        const dev = v.dev ?? (await routeDevice(v.addr))
        if (!dev) continue
        watch.set(v.addr, dev)
        vipGroups.set(v.addr, [...(vipGroups.get(v.addr) ?? []), g.name])
      }
    }
  }
  const arbiter: ArpArbiter | undefined = watch.size
    ? startArpArbiter({
        watch,
        log,
        onClaim: addr => {
          if (closed) return
          const now = clock.now()
          for (const g of vipGroups.get(addr) ?? []) membership.claim(g, now)
          pump()
        },
      })
    : undefined
  registerGauges(
    registry,
    () => membership.view(clock.now()),
    config.peerNode,
    () => events?.clients ?? 0,
  )
  let closed = false
  let transport: Transport | undefined
  let pingTimer: Timer | undefined
  let pinger: Pinger | undefined
  let events: EventServer | undefined
  let wakeTimer: Timer | undefined
  let sendTimer: Timer | undefined
  const busy = new Map<string, Promise<void>>()

  const snapshot = (): ServerLine[] => {
    const v = membership.view(clock.now())
    return [
      { type: 'hello', node: v.self },
      { type: 'node', node: v.self, alive: true },
      { type: 'node', node: v.peer, alive: v.peerAlive },
      ...v.groups.map(g => ({
        type: 'resource' as const,
        group: g.name,
        holder: g.holder,
      })),
      { type: 'active', node: v.active },
    ]
  }

  const onEvent = (e: MemberEvent): ServerLine | undefined => {
    switch (e.type) {
      case 'node':
        if (!e.alive)
          lastDeath = { heardAt: membership.peerLastSeen, deadAt: tickAt }
        log[e.alive ? 'info' : 'warn'](
          { node: e.node, ...(e.alive ? {} : { silentMs: e.silentMs }) },
          e.alive ? 'peer alive' : 'peer dead',
        )
        return { type: 'node', node: e.node, alive: e.alive }
      case 'resource':
        log.info({ group: e.group, holder: e.holder }, 'resource holder')
        return { type: 'resource', group: e.group, holder: e.holder }
      case 'active':
        log.info({ active: e.node }, 'active node')
        return { type: 'active', node: e.node }
      case 'path':
        if (!e.up) m.pathDown.inc({ path: e.path })
        log[e.up ? 'info' : 'warn'](
          { path: e.path },
          e.up ? 'path up' : 'path down',
        )
        return undefined
      case 'late':
        m.late.inc()
        log.warn({ silentMs: e.silentMs }, 'late heartbeat')
        return undefined
      case 'standby':
        log.info({ on: e.on, reason: e.reason }, 'standby')
        return undefined
      case 'split-brain':
        log.warn({ group: e.group, keep: e.keep }, 'both nodes hold the group')
        return undefined
      case 'peer-restart':
        log.info({ gen: e.gen }, 'peer restarted')
        return undefined
      case 'claim':
        m.claims.inc({ group: e.group, action: e.action })
        log.warn(
          { group: e.group, action: e.action },
          e.action === 'wait'
            ? 'VIP answered by another MAC while the peer is silent: not taking over'
            : e.action === 'yield'
              ? 'VIP answered by another MAC: giving back a takeover'
              : 'VIP answered by another MAC: keeping it (held before the silence), re-announcing',
        )
        return undefined
      case 'start-failed':
      case 'stop-failed':
        log.error({ group: e.group }, e.type)
        return undefined
    }
  }

  const runAction = (a: Action): void => {
    const g = config.groups.find(x => x.name === a.group)
    if (!g) return
    const decidedAt = clock.now()
    const run = async (): Promise<void> => {
      const op = a.type === 'stop' ? 'stop' : 'start'
      const actionAt = clock.now()
      let first: AgentResult | undefined
      const ok =
        op === 'stop'
          ? await stopGroup(g, runner, log)
          : await startGroup(g, runner, log, (_r, res) => (first ??= res))
      if (a.type === 'start' && ok)
        logStartTiming(g.name, decidedAt, actionAt, first, clock.now())
      m.ops.inc({ group: g.name, op: a.type, result: ok ? 'ok' : 'failed' })
      if (a.type === 'announce') return
      if (!closed) {
        membership.resourceDone(g.name, op, ok, clock.now())
        pump()
        void sendNow()
      }
    }
    // Operations on one group run one after another. With none pending the
    // agent is spawned right now, before this turn's logging and sends: on
    // failover the VIP waits for nothing else.
    const prev = busy.get(g.name)
    const next: Promise<void> = (prev ? prev.then(run) : run()).finally(() => {
      if (busy.get(g.name) === next) busy.delete(g.name)
    })
    busy.set(g.name, next)
  }

  // Where a takeover's milliseconds go (docs/heartbeatd.md): silence until
  // the peer was declared dead, the decision, the address, the first
  // announcement, the rest of the group.
  let lastDeath: { heardAt: number; deadAt: number } | undefined
  // When the last tick ran: the peer is declared dead only in a tick.
  let tickAt = clock.now()
  const logStartTiming = (
    group: string,
    decidedAt: number,
    actionAt: number,
    first: AgentResult | undefined,
    doneAt: number,
  ): void => {
    const r1 = (x: number): number => Math.round(x * 10) / 10
    const d =
      lastDeath && decidedAt - lastDeath.deadAt < 1000 ? lastDeath : undefined
    const added = first?.marks?.added ?? actionAt + (first?.ms ?? 0)
    const announced = first?.marks?.announced ?? added
    log.info(
      {
        group,
        cause: d ? 'peer-dead' : 'decision',
        ...(d
          ? {
              detectionMs: r1(d.deadAt - d.heardAt),
              decisionMs: r1(decidedAt - d.deadAt),
            }
          : {}),
        queuedMs: r1(actionAt - decidedAt),
        addressMs: r1(added - actionAt),
        announceMs: r1(announced - added),
        resourcesMs: r1(doneAt - announced),
        totalMs: r1(doneAt - (d ? d.heardAt : decidedAt)),
        native: first?.marks !== undefined,
      },
      'group start timing',
    )
    if (d) lastDeath = undefined
  }

  // Drains the machine's outbox and re-arms the single wake-up timer.
  const pump = (): void => {
    for (;;) {
      const acts = membership.takeActions()
      const evs = membership.takeEvents()
      if (!acts.length && !evs.length) break
      for (const a of acts) runAction(a)
      const lines = evs
        .map(onEvent)
        .filter((l): l is ServerLine => l !== undefined)
      events?.broadcast(lines)
      if (acts.length) void sendNow()
    }
    if (closed) return
    wakeTimer?.cancel()
    const now = clock.now()
    if (arbiter && probeTimer === undefined && membership.probing(now))
      probeLoop()
    const at = membership.nextWake(now)
    if (Number.isFinite(at)) {
      // A deadline is judged only after the datagrams already in the
      // kernel are read: when this process was stalled (CPU starvation,
      // SIGSTOP, swap) its timers fire before the poll phase, and the
      // peer's heartbeats that arrived meanwhile would be read too late.
      const due = (): void => {
        if (closed) return
        tickAt = clock.now()
        membership.tick(tickAt)
        pump()
      }
      wakeTimer = clock.after(Math.max(0, at - now), () =>
        afterIo ? afterIo(due) : due(),
      )
    }
  }

  // While the peer is silent: an ARP probe for every watched VIP each
  // keepalive (a held one once a second), so a peer cut off from the
  // heartbeats but holding the VIP answers before its deadline runs out.
  let probeTimer: Timer | undefined
  let probeTicks = 0
  const probeLoop = (): void => {
    probeTimer = undefined
    if (closed || !arbiter) return
    const now = clock.now()
    if (!membership.probing(now)) return
    const every = Math.max(1, Math.round(1000 / config.keepalive))
    const held = new Set(
      membership
        .view(now)
        .groups.filter(g => g.state !== 'stopped')
        .map(g => g.name),
    )
    for (const [addr, groups] of vipGroups) {
      if (!groups.every(g => held.has(g)) || probeTicks % every === 0)
        arbiter.probe(addr)
    }
    probeTicks++
    probeTimer = clock.after(config.keepalive, probeLoop)
  }

  const advertFor = (via: Via, now: number, leaving: boolean): Buffer => {
    const a = membership.advert(now)
    const fields = leaving
      ? { ...a, standby: true, takeover: false, held: [], failed: [] }
      : a
    return encodeHeartbeat(
      { from: config.localNode, gen, seq, via, ...fields },
      config.auth,
    )
  }

  // One round: the same sequence on every path; the medium is signed too.
  const sendNow = async (leaving = false): Promise<void> => {
    if ((!leaving && closed) || !transport) return
    seq++
    const now = clock.now()
    const bufs = new Map<Via, Buffer>()
    const bufFor = (p: PathSpec): Buffer => {
      let b = bufs.get(p.via)
      if (!b) bufs.set(p.via, (b = advertFor(p.via, now, leaving)))
      return b
    }
    const failed = await transport.sendAll(bufFor)
    for (const p of paths) {
      if (failed.some(f => f.path === p)) m.sendErrors.inc({ path: p.name })
      else m.sent.inc({ path: p.name })
    }
  }

  const onDatagram = (msg: Buffer, source: string): void => {
    if (closed) return
    const d = decodeHeartbeat(msg, config.auth)
    if (!d.ok) return drop(d.reason, source)
    const hb = d.hb
    if (hb.from === config.localNode) return // our own broadcast/multicast
    if (hb.from !== config.peerNode) return drop('unknown-node', source)
    const path = classify(paths, hb.via, source)
    if (!path) return drop('unknown-path', source)
    // The same sequence arrives once per path: guard each path apart.
    const v = guard.check(`${hb.from}|${path.name}`, hb.gen, hb.seq)
    if (v === 'replay' || v === 'stale') return drop(v, source)
    membership.heartbeat(path.name, hb, clock.now())
    pump()
  }

  try {
    events = await startEventServer({
      listen: config.eventListen,
      snapshot,
      logger: log,
    })
    transport = await openTransport({ paths, onDatagram, logger: log })
    if (config.ping.length) {
      let lastOk = config.ping.length
      const check = (): void => {
        const ok = pinger?.reachable(clock.now()) ?? lastOk
        if (ok !== lastOk) {
          log[ok < lastOk ? 'warn' : 'info'](
            { reachable: ok, total: config.ping.length },
            'ping nodes',
          )
          lastOk = ok
          membership.pingState(ok, clock.now())
          pump()
        }
      }
      const interval = Math.min(
        1000,
        Math.max(200, Math.round(config.deadping / 5)),
      )
      pinger = startPinger({
        hosts: config.ping,
        intervalMs: interval,
        deadpingMs: config.deadping,
        now: () => clock.now(),
        onReply: check,
        logger: log,
      })
      const poll = (): void => {
        check()
        if (!closed) pingTimer = clock.after(interval, poll)
      }
      pingTimer = clock.after(interval, poll)
    }
  } catch (e) {
    await events?.close()
    await transport?.close()
    native?.close()
    arbiter?.close()
    throw e
  }

  const beat = (): void => {
    void sendNow()
    if (!closed) sendTimer = clock.after(config.keepalive, beat)
  }
  beat()
  pump()
  log.info(
    {
      node: config.localNode,
      peer: config.peerNode,
      paths: paths.map(p => p.name),
      keepalive: config.keepalive,
      deadtime: config.deadtime,
      events: events.address,
    },
    'heartbeat running',
  )

  return {
    registry,
    eventAddress: events.address,
    paths,
    status() {
      const v = membership.view(clock.now())
      return {
        ...v,
        generation: gen,
        seq,
        dropped: { ...drops },
        eventClients: events?.clients ?? 0,
        keepalive: config.keepalive,
        deadtime: config.deadtime,
        deadtimeMax: config.deadtimeMax,
      }
    },
    commands: {
      standby: () => {
        membership.requestStandby(clock.now())
        pump()
        return { standby: true }
      },
      takeover: () => {
        membership.requestTakeover(clock.now())
        pump()
        return { takeover: true }
      },
    },
    reload(next: Config) {
      const blocked = restartOnlyChanges(config, next)
      if (blocked.length)
        throw new Error(
          `changed directives need a restart: ${blocked.join(', ')}`,
        )
      config = next
      runner = makeRunner(next)
      membership.reconfigure(
        {
          deadtime: next.deadtime,
          deadtimeMax: next.deadtimeMax,
          warntime: next.warntime,
          initdead: next.initdead,
          autoFailback: next.autoFailback,
        },
        clock.now(),
      )
      pump()
    },
    async close() {
      // Graceful: release the resources (the VIP goes) first, then tell the
      // peer we are leaving so it takes over now rather than after deadtime.
      closed = true
      sendTimer?.cancel()
      wakeTimer?.cancel()
      pingTimer?.cancel()
      probeTimer?.cancel()
      arbiter?.close()
      pinger?.close()
      await Promise.allSettled(busy.values())
      for (const g of [...config.groups].reverse())
        await stopGroup(g, runner, log)
      for (let i = 0; i < 3; i++) await sendNow(true)
      await events?.close()
      await transport?.close()
      native?.close()
      dropLog.flush()
    },
  }
}
