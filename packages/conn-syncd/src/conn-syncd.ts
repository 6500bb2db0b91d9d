// The daemon core: conntrack events in, sync datagrams out to every peer;
// datagrams in, kernel entries (and proxy persistence) out. Sockets and
// processes are wired here; the codec, tables and batching are pure.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import {
  controlRequest,
  createDropLog,
  parseIntRange,
  type HostPort,
  type Logger,
  type Service,
} from '@has/daemon-kit'
import { packDatagrams } from './batch.js'
import type { Config } from './config.js'
import { csError } from './errors.js'
import { flowKey, type Flow, type PersistEntry } from './flow.js'
import {
  isNatted,
  isSyncable,
  type ConntrackRow,
  type KernelOp,
} from './conntrack.js'
import { isAddress, isServiceName, serviceAddress } from './grammar.js'
import { followHeartbeat, type MembershipEvent } from './heartbeat-client.js'
import { conntrackKernel, type Kernel, type ServiceTuple } from './kernel.js'
import { KernelQueue, type KernelQueueStats } from './kernel-queue.js'
import { LocalFlows } from './local-flows.js'
import { localAddressProbe } from './local-address.js'
import { createMetrics, type Metrics } from './metrics.js'
import { PeerTable } from './peer-table.js'
import { readSchedState, type SchedState } from './priority.js'
import {
  decodeMessage,
  FLAG_RESYNC,
  FLAG_RESYNC_END,
  MAX_PERSIST_TTL,
  MSG_DATA,
  MSG_RESYNC_REQUEST,
  ProtocolError,
  type SyncRecord,
} from './protocol.js'
import { Readiness } from './readiness.js'
import { SequenceTracker } from './sequence.js'

export type ResolvedConfig = Config & { readonly key: string }

export interface ConnSyncdOptions {
  readonly config: ResolvedConfig
  readonly logger: Logger
  readonly kernel?: Kernel
  /** Whether an address is on this host now (default: interface scan). */
  readonly isLocal?: (addr: string) => boolean
  readonly now?: () => number
  /**
   * This start's epoch (the CLI passes daemon-kit senderEpoch(): never
   * backwards across restarts, even after a clock step). Default: now().
   */
  readonly epoch?: number | bigint
}

const CLOSING = new Set([
  'FIN_WAIT',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
])

interface PeerState {
  name: string
  /** Source address:port of its last accepted datagram (always a configured peer's address). */
  address: string
  lastSeen: number
  received: number
  lost: number
  resyncsServed: number
  resyncsReceived: number
  lastResyncAsk: number
}

/**
 * Largest batch one `conntrack -R` process gets. A resync arrives faster
 * than a batch goes in, so the first batch is what the first event-loop
 * turn decoded and the second the rest: 2 processes for 10,000 flows where
 * 2,500 made 5, each a fork of this process and a file (-25% CPU, -20% time).
 */
const MAX_BATCH = 10_000
/** How long a silent configured peer is waited for before `ready`. */
const READY_GRACE_MS = 3000
/**
 * How long a VIP must stay away before this host's own entries for it are
 * removed: longer than a bounce (a master stopped for a moment that takes
 * its VIP back), short next to a failover back.
 */
const MOVED_AFTER_MS = 1000
/**
 * How long after a VIP arrives this host still inserts flows its peer
 * sends for it: the hand-over of the master that held it (its last flows,
 * younger than the threshold or held back by a stall).
 */
const HANDOVER_MS = 2000
/** Bound on a `wait-ready` request. */
const MAX_WAIT_READY_MS = 600_000

/** `status` (control socket, USR1; README "Status"). */
export interface ConnSyncdStatus {
  node: string
  listen: string
  /** Every peer's full table has arrived and is in the kernel (README "Readiness"). */
  ready: boolean
  /** Peers whose full table has not arrived yet. */
  waitingFor: string[]
  localFlows: number
  heldEntries: number
  /** Held entries not yet in the kernel (queued or being inserted). */
  kernelPending: number
  /** Held entries whose last kernel insert failed (retried). */
  kernelFailed: number
  /** The batched kernel path: queued and running changes, totals, the last batch. */
  kernel: KernelQueueStats
  sent: number
  received: number
  lost: number
  dropped: number
  resyncRequested: number
  resyncServed: number
  inserted: number
  insertFailed: number
  refused: number
  staleRemoved: number
  /** CPU priority in effect (config `nice`, `scheduler`), from /proc. */
  priority?: SchedState
  peers: {
    name: string
    address: string
    lastSeenMsAgo: number
    entries: number
    received: number
    lost: number
    resyncsServed: number
    resyncsReceived: number
  }[]
}

export interface ConnSyncd extends Service<ResolvedConfig, ConnSyncdStatus> {
  readonly metrics: Metrics
  /** Address the sync socket is bound to. */
  readonly address: HostPort
}

/** IPv4 sources on a dual-stack socket arrive as ::ffff:a.b.c.d. */
function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

export async function createConnSyncd(
  opts: ConnSyncdOptions,
): Promise<ConnSyncd> {
  let cfg = opts.config
  const log = opts.logger.child({ component: 'sync' })
  const now = opts.now ?? Date.now
  const isLocal = opts.isLocal ?? localAddressProbe()
  const kernel =
    opts.kernel ?? conntrackKernel(cfg.conntrack, cfg.entryTimeoutS, log)
  const metrics = createMetrics()
  const drops = createDropLog(log, { what: 'sync datagrams' })
  const startedAt = now()
  const epoch = BigInt(opts.epoch ?? startedAt)
  let seq = 0
  const local = new LocalFlows(cfg.syncThresholdMs)
  const held = new PeerTable()
  const seqs = new SequenceTracker()
  const peers = new Map<string, PeerState>()
  const counts = {
    sent: 0,
    received: 0,
    lost: 0,
    dropped: 0,
    resyncRequested: 0,
    resyncServed: 0,
    inserted: 0,
    insertFailed: 0,
    refused: 0,
    staleRemoved: 0,
  }
  const sources = (c: Config): Set<string> =>
    new Set([...c.peers.map(p => p.host), ...c.accept].map(plainAddress))
  let allowed = sources(cfg)
  const addressesOf = (c: Config): Set<string> =>
    new Set(c.services.map(sv => sv.address))
  let serviceAddresses = addressesOf(cfg)
  const readiness = new Readiness([...sources(cfg)], startedAt, READY_GRACE_MS)

  const family = isIP(cfg.listen.host) === 6 ? 'udp6' : 'udp4'
  const socket: Socket = createSocket({
    type: family,
    reuseAddr: Boolean(cfg.multicast),
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', e =>
      reject(
        csError(
          'CS_ERR_BIND',
          `${cfg.listen.host}:${cfg.listen.port}`,
          e.message,
          e,
        ),
      ),
    )
    socket.bind(cfg.listen.port, cfg.listen.host, () => resolve())
  })
  socket.on('error', err => log.warn({ err }, 'sync socket error'))
  if (cfg.multicast) {
    socket.addMembership(cfg.multicast.group, cfg.multicast.interface)
    socket.setMulticastTTL(1)
    if (cfg.multicast.interface)
      socket.setMulticastInterface(cfg.multicast.interface)
  }
  // A full table from a peer arrives as a burst of datagrams; the kernel's
  // default buffer (about 200 kB) holds only a few thousand flows.
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024)
  } catch {
    // capped by net.core.rmem_max; loss is still repaired by a resync
  }
  const bound = socket.address()

  const targets = (): HostPort[] =>
    cfg.multicast
      ? [...cfg.peers, { host: cfg.multicast.group, port: cfg.multicast.port }]
      : [...cfg.peers]
  const targetText = (): string[] => targets().map(t => `${t.host}:${t.port}`)

  const matches = (f: Flow): boolean =>
    cfg.services.some(
      s =>
        s.address === f.dst &&
        s.port === f.dport &&
        (s.proto === 'tcp' ? 6 : 17) === f.proto,
    )

  /** One label lookup per kind and datagram, not per record (10,000 in a resync). */
  const countRecords = (
    direction: 'sent' | 'received',
    records: readonly SyncRecord[],
  ): void => {
    let flow = 0
    let remove = 0
    for (const r of records)
      if (r.kind === 'flow') flow++
      else if (r.kind === 'remove') remove++
    const persist = records.length - flow - remove
    if (flow) metrics.records.inc({ direction, kind: 'flow' }, flow)
    if (remove) metrics.records.inc({ direction, kind: 'remove' }, remove)
    if (persist) metrics.records.inc({ direction, kind: 'persist' }, persist)
  }

  /**
   * Sends to every target, always: one sequence space per sender, and every
   * target sees every datagram, so a point-to-point answer would look like
   * loss to the others (resync answers are idempotent for everyone).
   */
  const broadcast = (
    records: readonly SyncRecord[],
    type: 1 | 2 = MSG_DATA,
    flags = 0,
    lastFlags = 0,
  ): void => {
    const all = targets()
    if (
      all.length === 0 ||
      (records.length === 0 && type === MSG_DATA && lastFlags === 0)
    )
      return
    const grams = packDatagrams(
      { type, flags, epoch, sender: cfg.node },
      records,
      cfg.maxDatagram,
      cfg.hmac,
      cfg.key,
      () => ++seq,
      lastFlags,
    )
    countRecords('sent', records)
    for (const g of grams) {
      for (const t of all) {
        socket.send(g, t.port, t.host)
        counts.sent++
        metrics.datagramsSent.inc()
      }
    }
  }

  // Records waiting for the next flush (coalesced per event-loop turn).
  let pending: SyncRecord[] = []
  let flushQueued = false
  const queue = (r: SyncRecord): void => {
    pending.push(r)
    if (!flushQueued) {
      flushQueued = true
      setImmediate(() => {
        flushQueued = false
        const out = pending
        pending = []
        broadcast(out)
      })
    }
  }

  const onRow = (row: ConntrackRow): void => {
    const f = row.flow
    if (!matches(f) || !isNatted(f)) return
    if (!isLocal(f.dst)) return
    if (row.event === 'DESTROY' || (row.state && CLOSING.has(row.state))) {
      const gone = local.ended(flowKey(f))
      if (gone) queue({ kind: 'remove', flow: gone })
      return
    }
    // Only flows past their handshake are synced: a half-open one would
    // become an un-evictable ESTABLISHED entry on the peers.
    if (isSyncable(row)) local.seen(f, now())
  }

  /** A kernel row this host may send: a service's translated, established flow. */
  const sendable = (r: ConntrackRow): boolean =>
    matches(r.flow) && isNatted(r.flow) && isSyncable(r)
  /** Flows this master holds the VIP for, from a fresh kernel dump. */
  const localFull = async (): Promise<Flow[]> => {
    const rows = await kernel.dump()
    const flows = rows
      .filter(r => sendable(r) && isLocal(r.flow.dst))
      .map(r => r.flow)
    return local.reconcile(flows, now())
  }

  let persistLocal: PersistEntry[] = []
  const pollPersistence = async (): Promise<void> => {
    if (!cfg.proxyControl) return
    try {
      const list = (await controlRequest(
        cfg.proxyControl,
        'persist-list',
        [],
        2000,
      )) as {
        service: string
        client: string
        node: string
        expiresInMs: number
      }[]
      persistLocal = list
        // What goes on the wire is what a peer's decoder accepts.
        .filter(
          e =>
            isServiceName(e.service) &&
            isAddress(e.client) &&
            isAddress(e.node) &&
            isLocal(serviceAddress(e.service)),
        )
        .map(e => ({
          service: e.service,
          client: e.client,
          node: e.node,
          ttl: Math.min(MAX_PERSIST_TTL, Math.ceil(e.expiresInMs / 1000)),
        }))
      for (const entry of persistLocal) queue({ kind: 'persist', entry })
    } catch (err) {
      log.debug({ err }, 'persist-list failed')
    }
  }

  const fullRecords = async (): Promise<SyncRecord[]> => [
    ...(await localFull()).map(flow => ({ kind: 'flow' as const, flow })),
    ...persistLocal.map(entry => ({ kind: 'persist' as const, entry })),
  ]

  /** The full table to every target; the last datagram says it is complete (even when empty). */
  const sendFullTable = async (why: Record<string, unknown>): Promise<void> => {
    const recs = await fullRecords()
    broadcast(recs, MSG_DATA, FLAG_RESYNC, FLAG_RESYNC_END)
    log.info(
      { ...why, to: targetText(), entries: recs.length },
      'full table sent to every peer',
    )
  }

  const serveResync = async (peer: PeerState, from: string): Promise<void> => {
    counts.resyncServed++
    metrics.resyncs.inc({ direction: 'served' })
    peer.resyncsServed++
    await sendFullTable({ reason: 'resync request', askedBy: peer.name, from })
  }

  /**
   * A missing table is asked for again only from a peer never heard from
   * (the request or the answer's start was lost) or silent for 3 s. A
   * table still arriving is not: on a loaded host a 10,000-flow answer
   * takes seconds, timers fire before the datagrams waiting in the socket
   * are read, and each extra answer is as much work again (a datagram lost
   * in the middle shows as a sequence gap, which asks anyway).
   */
  const lastHeard = new Map<string, number>()
  const stalled = (): boolean =>
    readiness.waitingFor(now()).some(h => {
      const at = lastHeard.get(h)
      return at === undefined || now() - at > 3000
    })
  /** Judged after the event loop's next I/O poll: timers run before datagrams already waiting are read. */
  const askIfStalled = (): void => {
    setImmediate(() => {
      if (!closed && now() - lastAskAll > 400 && stalled())
        askResync('a table is missing')
    })
  }

  let lastAskAll = -Infinity
  let closed = false
  const askResync = (why: string): void => {
    log.debug(
      { why, waitingFor: readiness.waitingFor(now()) },
      'asking every peer for its full table',
    )
    lastAskAll = now()
    counts.resyncRequested++
    metrics.resyncs.inc({ direction: 'requested' })
    broadcast([], MSG_RESYNC_REQUEST)
  }

  // Kernel results reach the metrics once per batch: a label lookup per
  // flow cost as much as decoding it. Index: op * 2 + (failed ? 1 : 0).
  const OP_LABELS = [
    { op: 'insert', result: 'ok' },
    { op: 'insert', result: 'failed' },
    { op: 'refresh', result: 'ok' },
    { op: 'refresh', result: 'failed' },
    { op: 'delete', result: 'ok' },
    { op: 'delete', result: 'failed' },
  ] as const
  const opTally = OP_LABELS.map(() => 0)
  const flushOpTally = (): void => {
    OP_LABELS.forEach((labels, i) => {
      const n = opTally[i] ?? 0
      if (n > 0) metrics.kernelOps.inc(labels, n)
      opTally[i] = 0
    })
  }

  // Kernel changes: batched, one `conntrack -R` at a time, rate-bounded.
  const kq = new KernelQueue({
    apply: ops => kernel.apply(ops),
    maxBatch: MAX_BATCH,
    ratePerS: cfg.maxInsertRate,
    now,
    onResult: (op: KernelOp, ok: boolean, key) => {
      const i =
        (op.op === 'replace' ? 0 : op.op === 'refresh' ? 2 : 4) + (ok ? 0 : 1)
      opTally[i] = (opTally[i] ?? 0) + 1
      if (op.op === 'delete') return
      if (ok) counts.inserted++
      else counts.insertFailed++
      const cur = held.get(key)
      // Only if the held entry still has the mapping this op inserted.
      if (
        !cur ||
        cur.flow.natDst !== op.flow.natDst ||
        cur.flow.natDport !== op.flow.natDport ||
        cur.flow.natSrc !== op.flow.natSrc ||
        cur.flow.natSport !== op.flow.natSport
      )
        return
      if (ok) {
        cur.kernelAt = now()
        cur.failedAt = 0
      } else cur.failedAt = now()
    },
    onProgress: () => {
      flushOpTally()
      checkReady()
    },
  })

  const applyFlow = (peer: string, f: Flow): void => {
    if (!matches(f) || (isLocal(f.dst) && !takingOver(f.dst))) return
    const key = flowKey(f)
    const up = held.upsert(peer, f, now(), key)
    if (!up) {
      counts.refused++
      metrics.records.inc({ direction: 'refused', kind: 'flow' })
      return
    }
    const { held: h, changed } = up
    if (!changed) {
      if (kq.has(key)) return
      const third = (f.timeout * 1000) / 3
      // In the kernel: its timeout is extended (conntrack -U) once a third
      // of it has passed; the entry and its window state stay.
      if (h.kernelAt > 0) {
        if (now() - h.kernelAt >= third)
          kq.push({ op: 'refresh', flow: f }, key)
        return
      }
      // Failed: retried at the same pace, not on every refresh.
      if (h.failedAt > 0 && now() - h.failedAt < third) return
    }
    kq.push({ op: 'replace', flow: f }, key)
  }

  /**
   * Entries a previous instance left in the kernel for the services whose
   * VIP is elsewhere: flows that ended while this master was away, old
   * mappings, entries with the stale TCP window state of a time this host
   * held the VIP. One table walk per service removes them all before the
   * first insert (the queue waits), so the peers' tables then go in as
   * pure inserts: no per-flow delete, which costs a walk each. A VIP this
   * host holds is left alone: its entries are live connections.
   */
  let purge: 'running' | 'done' = 'running'
  const tuplesOf = (addresses: (a: string) => boolean): ServiceTuple[] =>
    cfg.services
      .filter(sv => addresses(sv.address))
      .map(sv => ({
        proto: sv.proto === 'tcp' ? 6 : 17,
        dst: sv.address,
        dport: sv.port,
      }))
  const purgeAtStart = async (): Promise<void> => {
    kq.pause()
    try {
      const away = tuplesOf(a => !isLocal(a))
      const n = away.length > 0 ? await kernel.purge(away) : 0
      counts.staleRemoved += n
      if (n > 0)
        log.info(
          { entries: n, services: away.map(sv => `${sv.dst}:${sv.dport}`) },
          'stale kernel entries from a previous instance removed',
        )
    } catch (err) {
      log.warn(
        { err },
        'cannot purge stale kernel entries; they are replaced as peers send their flows',
      )
    } finally {
      purge = 'done'
      kq.resume()
      checkReady()
    }
  }

  /**
   * A VIP that moves away (this master demoted) leaves this host's own
   * entries of its flows in the kernel, with the TCP window state of the
   * time it forwarded them. The peer now sends those flows, and an insert
   * meeting an entry with the same mapping counts as done (opDone), so the
   * stale state would stay: at the next failover back, strict window
   * tracking marks the flows' packets INVALID and the local stack resets
   * them. Once the VIP has been away for MOVED_AFTER_MS, one table walk
   * per VIP removes them; the flows held for it go in again at once, as
   * inserts (window state picked up from traffic), and the peer is asked
   * for the rest. A VIP that only bounces (a master stopped for a moment
   * takes it back) keeps its entries: they are this host's live flows.
   */
  const awaySince = new Map<string, number>()
  const arrivedAt = new Map<string, number>()
  const heldHere = new Map<string, boolean>()
  /** A VIP that came here just now (or is not yet seen to): its old holder's hand-over is still welcome. */
  const takingOver = (vip: string): boolean =>
    heldHere.get(vip) === false ||
    now() - (arrivedAt.get(vip) ?? -Infinity) < HANDOVER_MS
  let moving = false
  const watchVips = (): void => {
    // At start purgeAtStart does this job; one purge at a time.
    if (purge !== 'done' || moving) return
    const gone: string[] = []
    const t = now()
    for (const a of serviceAddresses) {
      const here = isLocal(a)
      const was = heldHere.get(a)
      if (was === false && here) {
        log.info({ vip: a }, 'VIP arrived: this host sends its flows now')
        awaySince.delete(a)
        arrivedAt.set(a, t)
      }
      if (was === true && !here) {
        log.info(
          { vip: a, afterMs: MOVED_AFTER_MS },
          "VIP left: its flows go to the peers now; this host's own entries go if it stays away",
        )
        awaySince.set(a, t)
        void handOver(a)
      }
      const since = awaySince.get(a)
      if (since !== undefined && !here && t - since >= MOVED_AFTER_MS) {
        gone.push(a)
        awaySince.delete(a)
      }
      heldHere.set(a, here)
    }
    if (gone.length > 0) void purgeMoved(gone)
  }
  /**
   * The VIP just left: the master taking it over needs every flow this
   * host forwarded for it, also those younger than the threshold and those
   * whose events a stall held back (a SIGSTOP, a starved CPU; the kernel
   * forwarded on meanwhile). One dump, sent at once.
   */
  const handOver = async (vip: string): Promise<void> => {
    try {
      const flows = (await kernel.dump())
        .filter(r => r.flow.dst === vip && sendable(r))
        .map(r => r.flow)
      for (const flow of flows) queue({ kind: 'flow', flow })
      log.info(
        { vip, flows: flows.length },
        'VIP handed over: its flows sent to the peers',
      )
    } catch (err) {
      log.warn({ err, vip }, 'VIP handed over: cannot send its flows')
    }
  }
  const purgeMoved = async (gone: readonly string[]): Promise<void> => {
    moving = true
    kq.pause()
    try {
      const n = await kernel.purge(tuplesOf(a => gone.includes(a)))
      counts.staleRemoved += n
      let again = 0
      for (const h of held.values()) {
        if (!gone.includes(h.flow.dst)) continue
        h.kernelAt = 0
        h.failedAt = 0
        // Replaces a refresh still queued, which would miss the entry.
        kq.push({ op: 'replace', flow: h.flow })
        again++
      }
      log.info(
        { vips: gone, removed: n, reinserting: again },
        "VIP moved away: this host's own entries of its flows removed",
      )
    } catch (err) {
      log.warn(
        { err, vips: gone },
        "VIP moved away: cannot remove this host's own entries; a failover back may reset its flows unless net.netfilter.nf_conntrack_tcp_be_liberal=1",
      )
    } finally {
      moving = false
      kq.resume()
      checkReady()
      // Flows the peer sent while this host still held the VIP were not kept.
      askResync('VIP moved away')
    }
  }

  // Readiness: stale entries gone, every peer's full table here and in the kernel.
  const ready = (): boolean =>
    purge === 'done' && kq.idle && readiness.waitingFor(now()).length === 0
  let wasReady = false
  let announced = false
  const waiters = new Set<{ done: (r: boolean) => void }>()
  const checkReady = (): void => {
    const r = ready()
    metrics.ready.set(r ? 1 : 0)
    if (r && !wasReady) {
      // Info once per start (and after a peer restart); a batch of new
      // flows makes it false for a moment, which is only debug news.
      const at = announced ? 'debug' : 'info'
      announced = true
      log[at](
        {
          heldEntries: held.size,
          msSinceStart: now() - startedAt,
          kernel: kq.stats(),
        },
        'ready: every peer table is in the kernel',
      )
    }
    wasReady = r
    if (r) for (const w of [...waiters]) w.done(true)
  }

  const onDatagram = (buf: Buffer, rinfo: RemoteInfo): void => {
    const host = plainAddress(rinfo.address)
    const drop = (reason: string): void => {
      counts.dropped++
      metrics.dropped.inc({ reason })
      drops.drop(reason, host)
    }
    // Only configured peers (and accept addresses) may talk to us, signed or not.
    if (!allowed.has(host)) return drop('source')
    let msg
    try {
      msg = decodeMessage(buf, cfg.hmac, cfg.key)
    } catch (e) {
      return drop(e instanceof ProtocolError ? e.reason : 'record')
    }
    if (msg.sender === cfg.node) return // our own multicast
    const v = seqs.observe(msg.sender, msg.epoch, msg.seq)
    if (v.kind === 'full') return drop('sender')
    if (v.kind === 'old') return drop('replay')
    const from = `${host}:${rinfo.port}`
    let peer = peers.get(msg.sender)
    if (!peer) {
      peer = {
        name: msg.sender,
        address: from,
        lastSeen: 0,
        received: 0,
        lost: 0,
        resyncsServed: 0,
        resyncsReceived: 0,
        lastResyncAsk: 0,
      }
      peers.set(msg.sender, peer)
    }
    peer.lastSeen = now()
    peer.address = from
    peer.received++
    counts.received++
    metrics.datagramsReceived.inc({ peer: msg.sender })
    readiness.heard(host)
    lastHeard.set(host, now())
    if (v.kind === 'restart') {
      log.info({ peer: msg.sender, from }, 'peer restarted')
      readiness.restarted(host)
      announced = false
      // Its table may have changed while it was away: ask for it now (it
      // keeps sending, so the silence rule below would never ask).
      askResync('peer restarted')
    }
    if (v.kind === 'next' && v.lost > 0) {
      peer.lost += v.lost
      counts.lost += v.lost
      metrics.lost.inc({ peer: msg.sender }, v.lost)
      // Loss is repaired by asking for full tables (rate-limited per peer).
      if (now() - peer.lastResyncAsk > 1000) {
        peer.lastResyncAsk = now()
        askResync('sequence gap')
      }
    }
    if (msg.type === MSG_RESYNC_REQUEST) {
      void serveResync(peer, from)
      return
    }
    if (msg.flags & FLAG_RESYNC) peer.resyncsReceived++
    countRecords('received', msg.records)
    for (const r of msg.records) {
      if (r.kind === 'flow') applyFlow(msg.sender, r.flow)
      else if (r.kind === 'remove') {
        const h = held.remove(flowKey(r.flow))
        if (h && !isLocal(r.flow.dst)) kq.push({ op: 'delete', flow: h.flow })
      } else if (cfg.proxyControl) {
        // Every field was checked against its grammar by the decoder.
        if (!isLocal(serviceAddress(r.entry.service)) && r.entry.ttl > 0) {
          void controlRequest(
            cfg.proxyControl,
            'persist-set',
            [
              r.entry.service,
              r.entry.client,
              r.entry.node,
              String(r.entry.ttl),
            ],
            2000,
          ).catch(err => log.debug({ err }, 'persist-set failed'))
        }
      }
    }
    if (msg.flags & FLAG_RESYNC_END) readiness.answered(host)
    checkReady()
  }
  socket.on('message', onDatagram)

  // Events of other addresses (the peers' flows this host inserts, 10,000
  // NEW lines in a resync) are dropped before they are parsed.
  kernel.follow(onRow, dst => serviceAddresses.has(dst) && isLocal(dst))
  void purgeAtStart()

  // Timers: threshold sends, periodic refresh, persistence polling.
  let lastExpire = now()
  const tick = setInterval(
    () => {
      watchVips()
      for (const flow of local.due(now())) queue({ kind: 'flow', flow })
      // A walk of every held entry: once a second (timeouts are whole
      // seconds), not every tick.
      if (now() - lastExpire >= 1000) {
        lastExpire = now()
        held.expire(lastExpire)
      }
      // A peer heard from whose full table has not come (its answer lost):
      // ask again, at most once a second, after the start-up asks.
      if (now() - startedAt > 2500 && now() - lastAskAll > 1000) askIfStalled()
      checkReady()
      // At most 100 ms: a flow goes out at most that long after its threshold
      // (a flow still on its way to the peer at a failover is lost).
    },
    Math.max(20, Math.min(100, Math.floor(cfg.syncThresholdMs / 4) || 20)),
  )
  let refreshing = false
  const refresh = async (): Promise<void> => {
    if (refreshing) return
    refreshing = true
    try {
      const flows = await localFull()
      for (const flow of flows) queue({ kind: 'flow', flow })
    } finally {
      refreshing = false
    }
  }
  let refreshTimer = setInterval(() => void refresh(), cfg.refreshIntervalMs)
  let persistTimer = cfg.proxyControl
    ? setInterval(() => void pollPersistence(), cfg.proxyPollMs)
    : undefined

  let stopHeartbeat: (() => void) | undefined
  const onMembership = (e: MembershipEvent): void => {
    // Logged so an operator (and the full-stack test) can see conn-syncd
    // acted on heartbeatd's view, not only on its own peer traffic.
    log.info(
      {
        event: e.kind,
        node: e.node ?? 'none',
        ...(e.kind === 'node' ? { alive: e.alive } : {}),
      },
      'heartbeatd membership event',
    )
    if (e.kind === 'node' && e.alive && e.node !== cfg.node)
      void sendFullTable({ reason: 'heartbeatd: node alive', node: e.node })
    if (e.kind === 'active' && e.node === cfg.node) void refresh()
  }
  if (cfg.heartbeat)
    stopHeartbeat = followHeartbeat(cfg.heartbeat, onMembership, log)

  // A (re)joining master asks for everything; repeated because UDP.
  const askTimers: NodeJS.Timeout[] = []
  askResync('start')
  // Again only while a table is missing: a second full answer is wasted
  // work on both sides (at 10,000 flows, as much as the first).
  for (const ms of [500, 2000]) askTimers.push(setTimeout(askIfStalled, ms))
  log.info(
    {
      listen: `${bound.address}:${bound.port}`,
      peers: targetText(),
      accept: [...allowed],
      node: cfg.node,
    },
    'conn-syncd running',
  )

  const kernelPending = (): { pending: number; failed: number } => {
    let p = 0
    let f = 0
    for (const h of held.values()) {
      if (h.kernelAt === 0 && h.failedAt === 0) p++
      else if (h.kernelAt === 0) f++
    }
    return { pending: p, failed: f }
  }

  const status = (): ConnSyncdStatus => {
    const byPeer = held.countByPeer()
    metrics.local.set(local.size)
    for (const [p, n] of byPeer) metrics.held.set({ peer: p }, n)
    const k = kq.stats()
    metrics.kernelPending.set(k.pending + k.inflight)
    const kp = kernelPending()
    const sched = readSchedState('self')
    return {
      node: cfg.node,
      listen: `${bound.address}:${bound.port}`,
      /** Every peer's full table has arrived and is in the kernel (see README "Readiness"). */
      ready: ready(),
      /** Peers whose full table has not arrived yet. */
      waitingFor: readiness.waitingFor(now()),
      localFlows: local.size,
      heldEntries: held.size,
      /** Held entries not yet in the kernel (queued or being inserted). */
      kernelPending: kp.pending,
      /** Held entries whose last kernel insert failed (retried). */
      kernelFailed: kp.failed,
      /** The batched kernel path: queued and running changes, totals, the last batch. */
      kernel: k,
      ...counts,
      ...(sched ? { priority: sched } : {}),
      peers: [...peers.values()].map(p => ({
        name: p.name,
        address: p.address,
        lastSeenMsAgo: now() - p.lastSeen,
        entries: byPeer.get(p.name) ?? 0,
        received: p.received,
        lost: p.lost,
        resyncsServed: p.resyncsServed,
        resyncsReceived: p.resyncsReceived,
      })),
    }
  }

  const waitReady = (args: string[]): Promise<unknown> => {
    const ms =
      args[0] === undefined
        ? 10_000
        : parseIntRange(args[0], 0, MAX_WAIT_READY_MS)
    if (ms === undefined || args.length > 1)
      throw new Error(`usage: wait-ready [ms 0..${MAX_WAIT_READY_MS}]`)
    const answer = (r: boolean) => ({
      ready: r,
      waitingFor: readiness.waitingFor(now()),
      heldEntries: held.size,
      kernel: kq.stats(),
    })
    if (ready()) return Promise.resolve(answer(true))
    return new Promise(resolve => {
      const w = {
        done: (r: boolean) => {
          clearTimeout(timer)
          waiters.delete(w)
          resolve(answer(r))
        },
      }
      const timer = setTimeout(() => w.done(false), ms)
      waiters.add(w)
    })
  }

  return {
    metrics,
    registry: metrics.registry,
    address: { host: bound.address, port: bound.port },
    status,
    commands: {
      resync: () => {
        askResync('control command')
        return { requested: true, to: targetText() }
      },
      flows: () =>
        [...held.values()].map(h => ({
          peer: h.peer,
          inKernel: h.kernelAt > 0,
          ...h.flow,
        })),
      'wait-ready': waitReady,
    },
    reload(next) {
      for (const k of [
        'node',
        'listen',
        'multicast',
        'conntrack',
        'entryTimeoutS',
        'heartbeat',
        'nice',
        'scheduler',
      ] as const) {
        if (JSON.stringify(next[k]) !== JSON.stringify(cfg[k]))
          log.warn({ directive: k }, 'directive changes only on restart')
      }
      const {
        multicast: _m,
        heartbeat: _h,
        nice: _n,
        scheduler: _s,
        ...rest
      } = next
      cfg = {
        ...rest,
        node: cfg.node,
        listen: cfg.listen,
        conntrack: cfg.conntrack,
        entryTimeoutS: cfg.entryTimeoutS,
        ...(cfg.multicast ? { multicast: cfg.multicast } : {}),
        ...(cfg.heartbeat ? { heartbeat: cfg.heartbeat } : {}),
        // Set once at start (priority.ts); status shows what is in effect.
        ...(cfg.nice !== undefined ? { nice: cfg.nice } : {}),
        ...(cfg.scheduler ? { scheduler: cfg.scheduler } : {}),
      }
      allowed = sources(cfg)
      serviceAddresses = addressesOf(cfg)
      kq.ratePerS = cfg.maxInsertRate
      local.thresholdMs = cfg.syncThresholdMs
      clearInterval(refreshTimer)
      refreshTimer = setInterval(() => void refresh(), cfg.refreshIntervalMs)
      if (persistTimer) clearInterval(persistTimer)
      persistTimer = cfg.proxyControl
        ? setInterval(() => void pollPersistence(), cfg.proxyPollMs)
        : undefined
    },
    async close() {
      closed = true
      clearInterval(tick)
      clearInterval(refreshTimer)
      if (persistTimer) clearInterval(persistTimer)
      for (const t of askTimers) clearTimeout(t)
      for (const w of [...waiters]) w.done(false)
      stopHeartbeat?.()
      kq.close()
      kernel.close()
      drops.flush()
      drops.close()
      await new Promise<void>(r => socket.close(() => r()))
    },
  }
}
