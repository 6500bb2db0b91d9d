// The daemon: feeds carrier changes (ip monitor events, sysfs poll as the
// backstop) to the LinkSelector and turns its switches into route changes
// and peer announcements. All kernel access goes through `Kernel`; all
// time through `Clock`. Route work runs one job at a time, in order.

import {
  silentLogger,
  type Logger,
  type Registry,
  type Service,
} from '@has/daemon-kit'
import {
  FULL_POLL_INTERVAL,
  restartOnlyChanges,
  type ErdConfig,
} from './config.js'
import { erdError } from './errors.js'
import { systemKernel, type Kernel, type Watcher } from './kernel.js'
import { systemClock, type Clock, type Timer } from '@has/daemon-kit'
import { createMetrics, type ErdMetrics } from './metrics.js'
import {
  LinkSelector,
  ROLES,
  type Role,
  type SelectorEvent,
} from './selector.js'
import {
  describeRoute,
  planRoutes,
  primaryRoutes,
  restorePrimary,
  routesFromCopies,
  withdrawPrimary,
  type Family,
  type Route,
  type RouteOp,
} from './routes.js'
import {
  announceCommands,
  announceTargets,
  type Ipv6Announce,
} from './announce.js'
import { NeighbourCache, neighbourLines } from './neighbours.js'
import type { Address } from './netlink-text.js'

export interface ErdOptions {
  readonly config: ErdConfig
  readonly logger?: Logger
  readonly kernel?: Kernel
  readonly clock?: Clock
  readonly registry?: Registry
}

export interface Transition {
  readonly at: string
  readonly from: Role | null
  readonly to: Role | null
  readonly reason: string
  /** From the link event to the routes changed, ms. */
  readonly applyMs?: number
}

export interface ErdStatus {
  readonly active: Role | null
  /** Set by the `switch` command until that link fails or `switch auto`. */
  readonly pinned: Role | null
  readonly links: Record<
    Role,
    {
      readonly ifname: string
      readonly phase: string
      readonly carrier: boolean
      readonly since: string
      readonly until?: string
      readonly flapping: boolean
      readonly recentLosses: number
    }
  >
  readonly transitions: readonly Transition[]
  readonly savedRoutes: readonly string[]
  readonly ipv6Targets: readonly string[]
  /** `na`: unsolicited advertisements; `ns`: the solicitation fallback (no perl). */
  readonly ipv6Announce: Ipv6Announce
}

export interface Erd extends Service<ErdConfig> {
  status(): ErdStatus
  /** Resolves once queued route work is done (tests, benchmarks). */
  idle(): Promise<void>
}

const MAX_TRANSITIONS = 50

/** Starts erd on the running kernel; throws coded errors it cannot start with. */
export async function createErd(opts: ErdOptions): Promise<Erd> {
  let cfg = opts.config
  const log = (opts.logger ?? silentLogger()).child({ component: 'erd' })
  const own = opts.kernel ? undefined : systemKernel()
  const kernel: Kernel = opts.kernel ?? (own as Kernel)
  const clock = opts.clock ?? systemClock
  const m: ErdMetrics = createMetrics(opts.registry)
  const ifname = (r: Role): string =>
    r === 'primary' ? cfg.primary : cfg.secondary
  const families = (): Family[] => [
    ...(cfg.ipv4 ? [4 as const] : []),
    ...(cfg.ipv6 ? [6 as const] : []),
  ]

  if (!(await kernel.canAdminNetwork())) throw erdError('ERD_ERR_PRIVILEGE')
  const carrier = { primary: false, secondary: false }
  for (const r of ROLES) {
    const c = await kernel.carrier(ifname(r))
    if (c === undefined) throw erdError('ERD_ERR_NO_INTERFACE', ifname(r), r)
    carrier[r] = c
  }

  // The primary's routes as found at start (thesis: read once, after the
  // boot scripts configured them). After a restart in failover they are
  // rebuilt from erd's own copies on the secondary.
  const first = await kernel.routes(families())
  let saved: Route[] = primaryRoutes(first.routes, cfg.primary)
  if (saved.length === 0) {
    saved = routesFromCopies(
      first.routes,
      cfg.primary,
      cfg.secondary,
      cfg.metric_offset,
    )
    if (saved.length)
      log.warn(
        { routes: saved.map(describeRoute) },
        'primary routes rebuilt from erd copies',
      )
  }
  if (first.skipped.length)
    log.warn(
      { skipped: first.skipped },
      'routes erd cannot copy (not single-path unicast)',
    )
  if (saved.length === 0)
    log.warn({ primary: cfg.primary }, 'the primary has no routes to protect')

  const neighbours = new NeighbourCache()
  for (const r of saved)
    if (r.gateway) neighbours.remember({ address: r.gateway })
  for (const r of ROLES) {
    for (const n of await kernel.neighbours(ifname(r)).catch(() => []))
      neighbours.remember(n)
  }

  // IPv6 peers get unsolicited NAs from the perl helper; checked once here
  // so a missing perl is one clear warning, not a failure every switch.
  let ipv6Announce: Ipv6Announce = 'na'
  if (cfg.ipv6 && !(await kernel.hasProgram('perl'))) {
    ipv6Announce = 'ns'
    const w = erdError('ERD_ERR_NO_PERL')
    log.warn({ code: w.code }, w.message)
  }

  const sel = new LinkSelector(cfg, clock.now(), carrier)
  for (const r of ROLES) sel.setSpeed(r, await kernel.speed(ifname(r)))
  const transitions: Transition[] = []

  // ---- serial route work ----
  let queue: Promise<void> = Promise.resolve()
  const enqueue = (job: () => Promise<void>): void => {
    queue = queue
      .then(job)
      .catch((err: unknown) => log.error({ err }, 'route work failed'))
  }

  const apply = async (
    ops: RouteOp[],
    quietMissing: boolean,
    pre: string[] = [],
  ): Promise<void> => {
    if (!ops.length && !pre.length) return
    const r = await kernel.apply(ops, pre)
    m.routeChanges.inc({ result: 'ok' }, ops.length - r.failed)
    if (r.failed) m.routeChanges.inc({ result: 'failed' }, r.failed)
    if (r.failed && !quietMissing) {
      log.warn(
        {
          code: 'ERD_ERR_ROUTE_APPLY',
          failed: r.failed,
          of: ops.length,
          errors: r.errors,
        },
        'some route changes failed',
      )
    }
  }

  // Addresses to announce, refreshed off the switchover path.
  let addresses: Record<Role, Address[]> = { primary: [], secondary: [] }
  const readAddresses = async (): Promise<void> => {
    const [p, s] = await Promise.all(
      ROLES.map(r => kernel.addresses(ifname(r)).catch(() => [] as Address[])),
    )
    addresses = { primary: p ?? [], secondary: s ?? [] }
  }

  // Bumped by every switch: a reconcile planned before it is stale.
  let generation = 0
  const reconcile = async (): Promise<void> => {
    void readAddresses()
    const gen = generation
    const { routes } = await kernel.routes(families())
    if (gen !== generation) return // the switch's own reconcile follows
    const ops = planRoutes({
      current: routes,
      saved,
      primary: cfg.primary,
      secondary: cfg.secondary,
      offset: cfg.metric_offset,
      active: sel.active,
    })
    if (!ops.length) return
    await apply(ops, false)
    log.info(
      {
        event: 'routes',
        changes: ops.map(o => `${o.op} ${describeRoute(o.route)} (${o.why})`),
      },
      'routes reconciled',
    )
  }

  // ---- announcements ----
  let announceTimer: Timer | undefined
  const announce = async (role: Role, round = 1): Promise<void> => {
    announceTimer = undefined
    if (cfg.announce_count === 0 || sel.active !== role) return
    const dev = ifname(role)
    const addrs = [
      ...addresses.primary,
      ...(role === 'secondary' ? addresses.secondary : []),
    ]
    const input = {
      dev,
      addresses: addrs,
      ipv6Targets: neighbours.ipv6(),
      ipv4: cfg.ipv4,
      ipv6: cfg.ipv6,
      ipv6Announce,
    }
    let sent = -1
    let via = 'announcer'
    // The long-lived announcer first: no process start on the switch path.
    const { v4, v6 } = announceTargets(input)
    if (kernel.announce && ipv6Announce === 'na' && v4.length + v6.length > 0) {
      const r = await kernel.announce(dev, [...v4, ...v6])
      if (r.error === undefined) {
        sent = r.sent
        m.announcements.inc({ result: 'ok' }, sent)
      } else
        log.warn(
          { error: r.error, dev },
          'announcer failed; falling back to arping and erd-na',
        )
    }
    if (sent < 0) {
      via = 'commands'
      const cmds = announceCommands(input)
      const { failed } = await kernel.run(cmds)
      sent = cmds.length - failed.length
      m.announcements.inc({ result: 'ok' }, sent)
      if (failed.length) {
        m.announcements.inc({ result: 'failed' }, failed.length)
        log.warn({ failed }, 'announcements failed')
      }
    }
    log.info({ event: 'announced', dev, round, sent, via }, 'peers notified')
    if (round < cfg.announce_count && sel.active === role) {
      announceTimer = clock.after(
        cfg.announce_interval,
        () => void announce(role, round + 1),
      )
    }
  }

  // ---- state machine glue ----
  const setGauges = (): void => {
    for (const l of ['primary', 'secondary', 'none'] as const)
      m.active.set({ link: l }, (sel.active ?? 'none') === l ? 1 : 0)
    for (const r of ROLES)
      m.usable.set(
        { link: r },
        ['up', 'going-down'].includes(sel.phase(r)) ? 1 : 0,
      )
  }

  // A switch does not wait for queued route work (a reconcile reading the
  // table can take tens of ms on a busy host): its few changes go straight
  // to the ip batch, which runs them in call order; stale reconciles are
  // dropped through `generation`, and a fresh one follows.
  const onSwitch = (e: Extract<SelectorEvent, { type: 'switch' }>): void => {
    generation++
    announceTimer?.cancel()
    announceTimer = undefined
    // Announce at once, not after the routes: until the first frame leaves
    // the new port, the switches (and peers with another MAC cached) keep
    // sending the node's traffic to the dead one. Receiving needs no route.
    if (e.to)
      void announce(e.to).catch((err: unknown) =>
        log.warn({ err }, 'announce failed'),
      )
    const job = async (): Promise<void> => {
      if (sel.active !== e.to) return // superseded by a later switch
      const pre = e.to
        ? neighbourLines(neighbours.all(), ifname(e.to), cfg)
        : []
      if (e.to === 'secondary') await apply(withdrawPrimary(saved), true, pre)
      else if (e.to === 'primary') await apply(restorePrimary(saved), true, pre)
      const applyMs = Math.round((clock.now() - e.at) * 10) / 10
      const t: Transition = {
        at: new Date(e.at).toISOString(),
        from: e.from,
        to: e.to,
        reason: e.reason,
        ...(e.to ? { applyMs } : {}),
      }
      transitions.push(t)
      if (transitions.length > MAX_TRANSITIONS) transitions.shift()
      m.switches.inc({ to: e.to ?? 'none' })
      if (e.to) m.switchSeconds.observe(applyMs / 1000)
      if (e.to === null)
        log.warn(
          { event: 'switch', ...t },
          'no usable link; routes left as they are',
        )
      else
        log.info(
          { event: 'switch', ...t, ifname: ifname(e.to) },
          `switched to ${e.to}`,
        )
    }
    const done = job().catch((err: unknown) =>
      log.error({ err }, 'switch failed'),
    )
    enqueue(async () => {
      await done
      await reconcile()
    })
  }

  let deadlineTimer: Timer | undefined
  const handle = (events: SelectorEvent[]): void => {
    let linkChanged = false
    for (const e of events) {
      if (e.type === 'switch') onSwitch(e)
      else {
        linkChanged = true
        const extra = {
          ...(e.delay === undefined ? {} : { delay: e.delay }),
          ...(e.flapping ? { flapping: true } : {}),
        }
        log.info(
          {
            event: 'link',
            link: e.role,
            ifname: ifname(e.role),
            phase: e.phase,
            ...extra,
          },
          `${e.role} link ${e.phase}`,
        )
      }
    }
    // The kernel re-adds connected routes when a link comes back up
    // administratively: put the table straight after any link change.
    if (linkChanged && !events.some(e => e.type === 'switch'))
      enqueue(reconcile)
    setGauges()
    deadlineTimer?.cancel()
    const d = sel.nextDeadline()
    deadlineTimer =
      d === undefined
        ? undefined
        : clock.after(Math.max(0, d - clock.now()), () =>
            handle(sel.tick(clock.now())),
          )
  }

  const feed = (role: Role, up: boolean, source: 'monitor' | 'poll'): void => {
    if (sel.carrier(role) === up) {
      // The usual poll sample (and repeated monitor lines): nothing to do
      // unless a delay is due, and its own timer covers that. Kept cheap:
      // it runs every poll_interval for the daemon's life.
      const d = sel.nextDeadline()
      if (d === undefined || d > clock.now()) return
    } else m.linkEvents.inc({ source })
    handle(sel.observe(role, up, clock.now()))
  }

  // ---- event sources ----
  let watcher: Watcher | undefined
  let restartTimer: Timer | undefined
  let closed = false
  const roleOf = (name: string): Role | undefined =>
    name === cfg.primary
      ? 'primary'
      : name === cfg.secondary
        ? 'secondary'
        : undefined
  const startWatch = (): void => {
    watcher = kernel.watch(
      ev => {
        if (ev.kind === 'link') {
          const r = roleOf(ev.ifname)
          if (r) feed(r, ev.carrier, 'monitor')
        } else if (roleOf(ev.ifname) && ev.lladdr && !ev.deleted) {
          neighbours.remember({ address: ev.address, lladdr: ev.lladdr })
        }
      },
      why => {
        if (closed) return
        m.monitorRestarts.inc()
        log.warn({ why }, 'link monitor stopped; polling until it restarts')
        restartTimer = clock.after(1000, startWatch)
      },
    )
  }
  if (cfg.link_events) startWatch()

  // Two polls. The full one reads both links' carrier and operstate: with
  // link events it only catches a missed event, so it runs every second.
  // The fast one reads just the active link's carrier bit (one pread) every
  // poll_interval: the kernel can hold a carrier-loss event back for up to
  // a second (linkwatch), while the bit itself changes at once. Together
  // they keep failover detection at bonding's miimon speed for a small
  // fraction of the cost of a full poll that often.
  let polling = false
  const poll = async (): Promise<void> => {
    if (polling) return
    polling = true
    try {
      const [p, s] = await Promise.all(
        ROLES.map(r => kernel.carrier(ifname(r))),
      )
      feed('primary', p === true, 'poll')
      feed('secondary', s === true, 'poll')
    } finally {
      polling = false
    }
  }
  const fastPoll = (): void => {
    const r = sel.active
    if (r !== null && sel.carrier(r) && !kernel.carrierBit(ifname(r)))
      feed(r, false, 'poll')
  }
  const startPolls = (): Timer[] =>
    cfg.link_events
      ? [
          clock.every(
            Math.max(cfg.poll_interval, FULL_POLL_INTERVAL),
            () => void poll(),
          ),
          ...(cfg.poll_interval < FULL_POLL_INTERVAL
            ? [clock.every(cfg.poll_interval, fastPoll)]
            : []),
        ]
      : [clock.every(cfg.poll_interval, () => void poll())]
  let pollTimers = startPolls()

  setGauges()
  await readAddresses()
  enqueue(reconcile)
  await queue
  log.info(
    {
      event: 'ready',
      active: sel.active,
      primary: cfg.primary,
      secondary: cfg.secondary,
      saved: saved.length,
      ipv6Announce,
    },
    `erd ready; active link ${sel.active ?? 'none'}`,
  )

  const status = (): ErdStatus => {
    const now = clock.now()
    const snap = sel.snapshot(now)
    const link = (r: Role) => ({
      ifname: ifname(r),
      phase: snap[r].phase,
      carrier: snap[r].carrier,
      since: new Date(snap[r].since).toISOString(),
      ...(snap[r].deadline === undefined
        ? {}
        : { until: new Date(snap[r].deadline).toISOString() }),
      flapping: snap[r].flapping,
      recentLosses: snap[r].recentLosses,
    })
    return {
      active: sel.active,
      pinned: sel.pinned,
      links: { primary: link('primary'), secondary: link('secondary') },
      transitions: [...transitions],
      savedRoutes: saved.map(describeRoute),
      ipv6Targets: neighbours.ipv6(),
      ipv6Announce,
    }
  }

  return {
    registry: m.registry,
    status,
    idle: async () => {
      let q: Promise<void>
      do {
        q = queue
        await q
      } while (q !== queue)
    },
    commands: {
      switch: args => {
        const to = args[0]
        if (to !== 'primary' && to !== 'secondary' && to !== 'auto') {
          throw erdError(
            'ERD_ERR_SWITCH',
            to ?? '',
            'expected primary, secondary or auto',
          )
        }
        const ev = sel.force(to === 'auto' ? null : to, clock.now())
        if (ev === false)
          throw erdError('ERD_ERR_SWITCH', to, 'the link is not usable')
        handle(ev)
        return { active: sel.active, pinned: sel.pinned }
      },
    },
    reload(next) {
      const changed = restartOnlyChanges(cfg, next)
      if (changed.length)
        throw erdError('ERD_ERR_RESTART_NEEDED', changed.join(', '))
      const pollChanged = next.poll_interval !== cfg.poll_interval
      cfg = next
      if (pollChanged) {
        for (const x of pollTimers) x.cancel()
        pollTimers = startPolls()
      }
      handle(sel.reconfigure(cfg, clock.now()))
    },
    async close() {
      closed = true
      for (const x of pollTimers) x.cancel()
      deadlineTimer?.cancel()
      announceTimer?.cancel()
      restartTimer?.cancel()
      watcher?.close()
      await queue
      own?.close()
      log.info({ active: sel.active }, 'routes left as they are')
    },
  }
}
