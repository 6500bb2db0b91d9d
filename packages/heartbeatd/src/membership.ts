// The pure heart of heartbeatd: peer liveness per path, roles and who holds
// which resource group. No sockets, no timers, no clock: every input carries
// `now` (ms) and outputs are drained from an outbox, so unit tests can walk
// through deadtime, initdead, failback and split brain without sleeping.

import type { Heartbeat } from './packet.js'
import { hbError } from './errors.js'

/** Gaps measured before the deadline may adapt, and the deviation factor. */
const ADAPT_AFTER = 16
const ADAPT_K = 8

export type GroupState = 'stopped' | 'starting' | 'running' | 'stopping'

export interface MembershipOptions {
  readonly self: string
  readonly peer: string
  /** In haresources order; the first is the "ACTIVE" group. */
  readonly groups: readonly { readonly name: string; readonly home: string }[]
  readonly paths: readonly string[]
  readonly deadtime: number
  /**
   * Upper bound of the adaptive deadline (ms); default deadtime (no
   * adaptation). See #deadline().
   */
  readonly deadtimeMax?: number
  readonly warntime: number
  readonly initdead: number
  readonly autoFailback: boolean
  /** Number of ping nodes configured (0: no connectivity rule). */
  readonly pingTotal: number
  /** Cool-down after a failed start before trying that group again (ms). */
  readonly retryMs?: number
  readonly now: number
}

export type Action =
  | { readonly type: 'start'; readonly group: string }
  | { readonly type: 'stop'; readonly group: string }
  /** Re-run start (idempotent) so the VIP is re-announced (GARP/NA). */
  | { readonly type: 'announce'; readonly group: string }

export type MemberEvent =
  | {
      readonly type: 'node'
      readonly node: string
      readonly alive: boolean
      /** Dead: how long the peer had been silent (ms). */
      readonly silentMs?: number
    }
  | {
      readonly type: 'resource'
      readonly group: string
      readonly holder: string | null
    }
  | { readonly type: 'active'; readonly node: string | null }
  | { readonly type: 'path'; readonly path: string; readonly up: boolean }
  | { readonly type: 'late'; readonly silentMs: number }
  | { readonly type: 'standby'; readonly on: boolean; readonly reason: string }
  | {
      readonly type: 'split-brain'
      readonly group: string
      readonly keep: boolean
    }
  | { readonly type: 'peer-restart'; readonly gen: number }
  | { readonly type: 'start-failed' | 'stop-failed'; readonly group: string }
  /**
   * Another MAC answers or announces the group's address on the LAN while
   * the peer's heartbeats are silent: `action` is what we do about it.
   */
  | {
      readonly type: 'claim'
      readonly group: string
      readonly action: 'wait' | 'yield' | 'keep'
    }

interface PathState {
  lastSeen: number | undefined
  up: boolean
  received: number
  lost: number
  gen: number
  seq: number
}

interface Group {
  readonly name: string
  readonly home: string
  state: GroupState
  since: number
  failedUntil: number
  conflict: boolean
  holder: string | null
  /** Last time another MAC claimed one of the group's addresses (ms). */
  claimAt: number | undefined
  /** The current claim episode was reported (one event per episode). */
  claimReported: boolean
}

export interface Advert {
  readonly standby: boolean
  readonly takeover: boolean
  readonly pingOk: number
  readonly pingTotal: number
  readonly held: readonly { group: string; heldMs: number }[]
  readonly failed: readonly string[]
}

export class Membership {
  readonly self: string
  readonly peer: string
  #o: MembershipOptions
  readonly #started: number
  readonly #paths = new Map<string, PathState>()
  readonly #groups: Group[]
  #peerAlive = false
  #peerEverSeen = false
  #peerLastSeen = 0
  #peerAliveSince = 0
  // Inter-arrival gaps of the peer's rounds (ms): smoothed mean and mean
  // deviation, as TCP estimates round-trip times (Jacobson 1988).
  #roundAt: number | undefined
  #gapMean: number | undefined
  #gapDev = 0
  #gaps = 0
  #evaluatedAt = -Infinity
  #peerLast: Heartbeat | undefined
  #lateWarned = false
  #standby = false
  #takeover = false
  #pingOk: number
  #active: string | null = null
  #actions: Action[] = []
  #events: MemberEvent[] = []

  constructor(o: MembershipOptions) {
    this.#o = o
    this.self = o.self
    this.peer = o.peer
    this.#started = o.now
    this.#pingOk = o.pingTotal // optimistic until the pinger has had a chance
    for (const p of o.paths) {
      this.#paths.set(p, {
        lastSeen: undefined,
        up: false,
        received: 0,
        lost: 0,
        gen: -1,
        seq: -1,
      })
    }
    this.#groups = o.groups.map(g => ({
      name: g.name,
      home: g.home,
      state: 'stopped',
      since: 0,
      failedUntil: 0,
      conflict: false,
      holder: null,
      claimAt: undefined,
      claimReported: false,
    }))
  }

  get peerAlive(): boolean {
    return this.#peerAlive
  }

  get standby(): boolean {
    return this.#standby
  }

  /** When the peer was last heard on any path (ms, `now` scale). */
  get peerLastSeen(): number {
    return this.#peerLastSeen
  }

  /**
   * Silence (ms) after which the peer is dead, now. deadtime is the floor:
   * a true death on a quiet network is detected as fast as configured. On
   * a loaded machine heartbeats arrive with jitter, and a fixed deadline
   * fires on a peer that is only late; so the deadline follows the measured
   * gaps between the peer's rounds, mean + 8 x mean deviation (TCP's
   * retransmission timer uses 4; a heartbeat deadline must be surer), up to
   * deadtimeMax. A cheap form of the adaptive detectors of Chen et al.
   * (2002) and Hayashibara et al. (phi accrual, 2004).
   */
  deadline(): number {
    const o = this.#o
    const max = Math.max(o.deadtime, o.deadtimeMax ?? o.deadtime)
    if (this.#gapMean === undefined || this.#gaps < ADAPT_AFTER)
      return o.deadtime
    const want = this.#gapMean + ADAPT_K * this.#gapDev
    return Math.min(max, Math.max(o.deadtime, Math.round(want)))
  }

  #sampleGap(gap: number): void {
    this.#gaps++
    if (this.#gapMean === undefined) {
      this.#gapMean = gap
      this.#gapDev = gap / 2
      return
    }
    const err = gap - this.#gapMean
    this.#gapMean += err / 8
    this.#gapDev += (Math.abs(err) - this.#gapDev) / 4
  }

  /** An authenticated, fresh heartbeat from the peer arrived on `path`. */
  heartbeat(path: string, hb: Heartbeat, now: number): void {
    const p = this.#paths.get(path)
    if (!p || hb.from !== this.peer) return
    if (p.gen === hb.gen && hb.seq > p.seq + 1) p.lost += hb.seq - p.seq - 1
    if (p.gen !== hb.gen || hb.seq > p.seq) {
      p.gen = hb.gen
      p.seq = hb.seq
    }
    p.received++
    p.lastSeen = now
    if (!p.up) {
      p.up = true
      this.#events.push({ type: 'path', path, up: true })
    }
    const last = this.#peerLast
    if (last && hb.gen > last.gen) {
      this.#events.push({ type: 'peer-restart', gen: hb.gen })
    }
    // The peer's state is its newest round, not the last datagram in: a
    // path may deliver old rounds late (see #settling).
    const newer =
      !last || hb.gen > last.gen || (hb.gen === last.gen && hb.seq > last.seq)
    if (newer) {
      // Gaps within one generation while alive; not the outage itself.
      if (
        this.#peerAlive &&
        last?.gen === hb.gen &&
        this.#roundAt !== undefined
      )
        this.#sampleGap(now - this.#roundAt)
      this.#roundAt = now
      this.#peerLast = hb
    }
    this.#peerLastSeen = now
    this.#peerEverSeen = true
    this.#lateWarned = false
    if (!this.#peerAlive) {
      this.#peerAlive = true
      this.#peerAliveSince = now
      for (const g of this.#groups) {
        g.claimAt = undefined
        g.claimReported = false
      }
      this.#events.push({ type: 'node', node: this.peer, alive: true })
    }
    if (hb.takeover && !this.#standby)
      this.#setStandby(true, `${this.peer} asked to take over`)
    if (hb.standby && this.#takeover) this.#takeover = false
    this.#evaluate(now)
  }

  /** Time passes: expire paths, warn on late heartbeats, declare death. */
  tick(now: number): void {
    const o = this.#o
    const deadline = this.deadline()
    for (const [path, p] of this.#paths) {
      if (p.up && p.lastSeen !== undefined && now - p.lastSeen > deadline) {
        p.up = false
        this.#events.push({ type: 'path', path, up: false })
      }
    }
    if (this.#peerAlive) {
      const silent = now - this.#peerLastSeen
      if (silent > o.warntime && !this.#lateWarned) {
        this.#lateWarned = true
        this.#events.push({ type: 'late', silentMs: silent })
      }
      if (silent > deadline) {
        this.#peerAlive = false
        this.#takeover = false
        this.#roundAt = undefined
        this.#events.push({
          type: 'node',
          node: this.peer,
          alive: false,
          silentMs: silent,
        })
        if (this.#standby) this.#setStandby(false, `${this.peer} is dead`)
      }
    }
    this.#evaluate(now)
  }

  /**
   * The LAN arbiter heard another MAC answer (or announce) one of the
   * group's addresses. While the peer's heartbeats are silent this is the
   * tie-break of a heartbeat partition with the LAN up: the address is
   * alive elsewhere, so the peer (or at least its kernel) still holds it.
   * A group we do not hold is not started while claims keep coming
   * (#claimed); one we started during this silence is given back at once;
   * one we held before the silence is kept and re-announced. While the
   * peer is heard, heartbeats decide and claims are ignored.
   */
  claim(group: string, now: number): void {
    const g = this.#groups.find(x => x.name === group)
    if (!g) return
    // Recorded while the peer is only late too: the probe sent at warntime
    // must count when the deadline runs out.
    g.claimAt = now
    this.#evaluate(now)
  }

  /**
   * Whether the runtime should probe the groups' addresses on the LAN now:
   * while the peer is silent past warntime, dead, or not yet heard. Never
   * while its heartbeats arrive on time (no traffic, no cost when healthy).
   */
  probing(now: number): boolean {
    if (!this.#peerAlive) return true
    return now - this.#peerLastSeen > this.#o.warntime
  }

  /** Claims count for one deadtime (the node whose name sorts last: two). */
  #claimWindow(): number {
    return this.#o.deadtime * (this.self < this.peer ? 1 : 2)
  }

  // Only a claim heard after the peer's last heartbeat says the address
  // lives on without it: a peer that took over shortly before dying sent
  // its own gratuitous ARPs while still heard, and those must not delay
  // the takeover by a claim window.
  #claimed(g: Group, now: number): boolean {
    return (
      g.claimAt !== undefined &&
      g.claimAt > this.#peerLastSeen &&
      now - g.claimAt < this.#claimWindow()
    )
  }

  /**
   * Started after the peer was last heard (or never heard), and recently:
   * a takeover whose announcements may have crossed the other holder's.
   * After max(2 s, 10 x deadtime) a takeover is an established hold.
   */
  #freshHold(g: Group, now: number): boolean {
    const recent = now - g.since < Math.max(2000, 10 * this.#o.deadtime)
    return recent && (!this.#peerEverSeen || g.since >= this.#peerLastSeen)
  }

  /** How many ping nodes answer now. */
  pingState(ok: number, now: number): void {
    this.#pingOk = ok
    this.#evaluate(now)
  }

  /** The runtime reports the end of a start/stop it was asked to run. */
  resourceDone(
    group: string,
    op: 'start' | 'stop',
    ok: boolean,
    now: number,
  ): void {
    const g = this.#groups.find(x => x.name === group)
    if (!g) return
    if (op === 'start') {
      if (ok) {
        g.state = 'running'
        g.since = now
      } else {
        // The runtime has already stopped what did start; let the peer try.
        g.state = 'stopped'
        g.failedUntil =
          now + (this.#o.retryMs ?? Math.max(2000, 10 * this.#o.deadtime))
        this.#events.push({ type: 'start-failed', group })
      }
    } else {
      g.state = 'stopped'
      if (!ok) {
        g.failedUntil =
          now + (this.#o.retryMs ?? Math.max(2000, 10 * this.#o.deadtime))
        this.#events.push({ type: 'stop-failed', group })
      }
    }
    this.#evaluate(now)
  }

  /** `heartbeatd standby`: hand everything to the peer and stay passive. */
  requestStandby(now: number): void {
    if (!this.#peerAlive) throw hbError('HB_ERR_PEER_DEAD', this.peer)
    this.#takeover = false
    this.#setStandby(true, 'standby requested')
    this.#evaluate(now)
  }

  /** `heartbeatd takeover`: leave standby and ask the peer for everything. */
  requestTakeover(now: number): void {
    if (this.#standby) this.#setStandby(false, 'takeover requested')
    this.#takeover = this.#peerAlive && !this.#peerLast?.standby
    this.#evaluate(now)
  }

  /** SIGHUP: new timings or failback policy, same nodes and groups. */
  reconfigure(
    o: Pick<
      MembershipOptions,
      'deadtime' | 'deadtimeMax' | 'warntime' | 'initdead' | 'autoFailback'
    >,
    now: number,
  ): void {
    this.#o = { ...this.#o, ...o }
    this.#evaluate(now)
  }

  /** Fields for our next heartbeat. */
  advert(now: number): Advert {
    return {
      standby: this.#standby,
      takeover: this.#takeover,
      pingOk: this.#pingOk,
      pingTotal: this.#o.pingTotal,
      held: this.#groups
        .filter(g => g.state !== 'stopped')
        .map(g => ({
          group: g.name,
          heldMs: g.state === 'starting' ? 0 : now - g.since,
        })),
      failed: this.#groups.filter(g => g.failedUntil > now).map(g => g.name),
    }
  }

  /**
   * Earliest time at which tick() could change something. After tick(now)
   * the result is always later than `now` (or Infinity): a deadline already
   * handled must not come back, or the runtime re-arms a 0 ms timer forever.
   * A deadline not yet handled stays, even if `now` is past it.
   */
  nextWake(_now: number): number {
    const o = this.#o
    const deadline = this.deadline()
    let t = Infinity
    for (const p of this.#paths.values()) {
      if (p.up && p.lastSeen !== undefined)
        t = Math.min(t, p.lastSeen + deadline + 1)
    }
    if (this.#peerAlive) {
      if (!this.#lateWarned)
        t = Math.min(t, this.#peerLastSeen + o.warntime + 1)
      t = Math.min(t, this.#peerLastSeen + deadline + 1)
    }
    // Time-based deadlines count until a decision has been taken after
    // them, not until the clock passes them: the runtime reads the clock
    // again after tick(), and a deadline falling in between was dropped,
    // leaving a lone node waiting for ever after initdead.
    const due = (at: number): void => {
      if (at > this.#evaluatedAt) t = Math.min(t, at)
    }
    if (this.#peerAlive) due(this.#peerAliveSince + o.warntime)
    if (!this.#peerEverSeen) due(this.#started + o.initdead)
    for (const g of this.#groups) {
      if (g.failedUntil) due(g.failedUntil)
      if (g.claimAt !== undefined && !this.#peerAlive)
        due(g.claimAt + this.#claimWindow())
    }
    return t
  }

  takeActions(): Action[] {
    return this.#actions.splice(0)
  }

  takeEvents(): MemberEvent[] {
    return this.#events.splice(0)
  }

  /** Current membership for the event protocol snapshot and status. */
  view(now: number) {
    return {
      self: this.self,
      peer: this.peer,
      peerAlive: this.#peerAlive,
      standby: this.#standby,
      takeoverRequested: this.#takeover,
      waitingForPeer: this.#waiting(now),
      ping: {
        ok: this.#pingOk,
        total: this.#o.pingTotal,
        peerOk: this.#peerAlive ? (this.#peerLast?.pingOk ?? null) : null,
      },
      active: this.#active,
      deadlineMs: this.deadline(),
      groups: this.#groups.map(g => ({
        name: g.name,
        home: g.home,
        state: g.state,
        holder: g.holder,
        heldMs: g.state === 'running' ? now - g.since : 0,
        failed: g.failedUntil > now,
      })),
      paths: [...this.#paths].map(([name, p]) => ({
        name,
        up: p.up,
        lastSeenMsAgo: p.lastSeen === undefined ? null : now - p.lastSeen,
        received: p.received,
        lost: p.lost,
        loss: p.received + p.lost ? p.lost / (p.received + p.lost) : 0,
      })),
    }
  }

  #waiting(now: number): boolean {
    return !this.#peerEverSeen && now < this.#started + this.#o.initdead
  }

  /**
   * A peer just heard (again) may first show us old rounds: a path that
   * comes up delivers what the kernel queued while ARP failed, seconds old.
   * For warntime (more than one keepalive) nothing is started on its word,
   * so its newest round, on whichever path, is what we judge by.
   */
  #settling(now: number): boolean {
    return this.#peerAlive && now < this.#peerAliveSince + this.#o.warntime
  }

  #setStandby(on: boolean, reason: string): void {
    if (this.#standby === on) return
    this.#standby = on
    this.#events.push({ type: 'standby', on, reason })
  }

  #peerHolds(name: string): boolean {
    return this.#peerAlive && !!this.#peerLast?.held.some(h => h.group === name)
  }

  #wantHold(g: Group, now: number): boolean {
    if (g.failedUntil > now) return false
    const o = this.#o
    const pingLost = o.pingTotal > 0 && this.#pingOk === 0
    // Alone: hold everything, unless we are the one cut off (WS2003 rule),
    // or the address still answers from another MAC on the LAN (a
    // heartbeat partition, not a death): a fresh takeover is given back,
    // a hold from before the silence is kept (see claim()).
    if (!this.#peerAlive) {
      if (pingLost) return false
      if (!this.#claimed(g, now)) return true
      const held = g.state === 'running' || g.state === 'starting'
      return held && !this.#freshHold(g, now)
    }
    if (this.#standby) return false
    const p = this.#peerLast as Heartbeat
    if (p.standby) return true
    // Public connectivity decides before preferences do.
    if (this.#pingOk < p.pingOk) return false
    if (this.#pingOk > p.pingOk) return true
    if (p.failed.includes(g.name)) return true
    const mine = g.state === 'running' || g.state === 'starting'
    const theirs = this.#peerHolds(g.name)
    if (mine && theirs) return this.#winsConflict(g, p, now)
    if (o.autoFailback) return g.home === this.self
    if (mine) return true
    if (theirs) return false
    return g.home === this.self
  }

  /** One event (and one re-announcement) per claim episode, not per ARP. */
  #reportClaim(g: Group, now: number): void {
    if (this.#peerAlive || !this.#claimed(g, now)) {
      g.claimReported = false
      return
    }
    if (g.claimReported) return
    g.claimReported = true
    const held = g.state === 'running' || g.state === 'starting'
    const action = !held ? 'wait' : this.#freshHold(g, now) ? 'yield' : 'keep'
    this.#events.push({ type: 'claim', group: g.name, action })
    if (action === 'keep' && g.state === 'running')
      this.#actions.push({ type: 'announce', group: g.name })
  }

  /** Both hold the group (healed partition): exactly one keeps it. */
  #winsConflict(g: Group, p: Heartbeat, now: number): boolean {
    if (this.#o.autoFailback) return g.home === this.self
    const mine = g.state === 'running' ? now - g.since : 0
    const theirs = p.held.find(h => h.group === g.name)?.heldMs ?? 0
    // Held times come from two clocks a packet apart: near-ties go by name.
    if (Math.abs(mine - theirs) > 2 * this.#o.deadtime) return mine > theirs
    return this.self < this.peer
  }

  #evaluate(now: number): void {
    this.#evaluatedAt = now
    const waiting = this.#waiting(now) || this.#settling(now)
    for (const g of this.#groups) {
      this.#reportClaim(g, now)
      const want = this.#wantHold(g, now)
      const theirs = this.#peerHolds(g.name)
      if (g.state === 'stopped' && want && !waiting && !theirs) {
        g.state = 'starting'
        g.since = now
        this.#actions.push({ type: 'start', group: g.name })
      } else if (g.state === 'running' && !want) {
        g.state = 'stopping'
        this.#actions.push({ type: 'stop', group: g.name })
      }
      if (g.state === 'running' && theirs && !g.conflict) {
        g.conflict = true
        this.#events.push({ type: 'split-brain', group: g.name, keep: want })
      } else if (g.conflict && (!theirs || g.state !== 'running')) {
        g.conflict = false
        // We won: neighbours may still point at the loser's MAC.
        if (g.state === 'running')
          this.#actions.push({ type: 'announce', group: g.name })
      }
      const holder =
        g.state === 'running' ? this.self : theirs ? this.peer : null
      if (holder !== g.holder) {
        g.holder = holder
        this.#events.push({ type: 'resource', group: g.name, holder })
      }
    }
    const active = this.#groups[0]?.holder ?? null
    if (active !== this.#active) {
      this.#active = active
      this.#events.push({ type: 'active', node: active })
    }
  }
}

/** What Membership.view() returns: the membership part of `status`. */
export type MembershipView = ReturnType<Membership['view']>
