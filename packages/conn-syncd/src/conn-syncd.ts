// The daemon core: conntrack events in, sync datagrams out to every peer;
// datagrams in, kernel entries (and proxy persistence) out. Sockets and
// processes are wired here; the codec, tables and batching are pure.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import { controlRequest, parseHostPort, type HostPort, type Logger, type Service } from '@has/daemon-kit'
import { packDatagrams } from './batch.js'
import type { Config } from './config.js'
import { csErrors } from './errors.js'
import { flowKey, type Flow, type PersistEntry } from './flow.js'
import { isNatted, type ConntrackRow } from './conntrack.js'
import { followHeartbeat, type MembershipEvent } from './heartbeat-client.js'
import { conntrackKernel, type Kernel } from './kernel.js'
import { LocalFlows } from './local-flows.js'
import { localAddressProbe } from './local-address.js'
import { createMetrics, type Metrics } from './metrics.js'
import { PeerTable } from './peer-table.js'
import { decodeMessage, FLAG_RESYNC, MSG_DATA, MSG_RESYNC_REQUEST, ProtocolError, type SyncRecord } from './protocol.js'
import { SequenceTracker } from './sequence.js'

export type ResolvedConfig = Config & { readonly key: string }

export interface ConnSyncdOptions {
  readonly config: ResolvedConfig
  readonly logger: Logger
  readonly kernel?: Kernel
  /** Whether an address is on this host now (default: interface scan). */
  readonly isLocal?: (addr: string) => boolean
  readonly now?: () => number
}

interface PeerState {
  name: string
  address: string
  lastSeen: number
  received: number
  lost: number
  resyncsServed: number
  resyncsReceived: number
  lastResyncAsk: number
}

const CLOSING = new Set(['FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK'])

export interface ConnSyncd extends Service<ResolvedConfig> {
  readonly metrics: Metrics
  /** Address the sync socket is bound to. */
  readonly address: HostPort
}

export async function createConnSyncd(opts: ConnSyncdOptions): Promise<ConnSyncd> {
  let cfg = opts.config
  const log = opts.logger.child({ component: 'sync' })
  const now = opts.now ?? Date.now
  const isLocal = opts.isLocal ?? localAddressProbe()
  const kernel = opts.kernel ?? conntrackKernel(cfg.conntrack, cfg.entryTimeoutS, log)
  const metrics = createMetrics()
  const epoch = now()
  let seq = 0
  const local = new LocalFlows(cfg.syncThresholdMs)
  const held = new PeerTable()
  const seqs = new SequenceTracker()
  const peers = new Map<string, PeerState>()
  const counts = { sent: 0, received: 0, lost: 0, dropped: 0, resyncRequested: 0, resyncServed: 0, inserted: 0, insertFailed: 0 }

  const family = isIP(cfg.listen.host) === 6 ? 'udp6' : 'udp4'
  const socket: Socket = createSocket({ type: family, reuseAddr: Boolean(cfg.multicast) })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', e => reject(csErrors('CS_ERR_BIND', `${cfg.listen.host}:${cfg.listen.port}`, e.message, e)))
    socket.bind(cfg.listen.port, cfg.listen.host, () => resolve())
  })
  socket.on('error', err => log.warn({ err }, 'sync socket error'))
  if (cfg.multicast) {
    socket.addMembership(cfg.multicast.group, cfg.multicast.interface)
    socket.setMulticastTTL(1)
    if (cfg.multicast.interface) socket.setMulticastInterface(cfg.multicast.interface)
  }
  const bound = socket.address()

  const targets = (): HostPort[] =>
    cfg.multicast ? [...cfg.peers, { host: cfg.multicast.group, port: cfg.multicast.port }] : [...cfg.peers]

  const matches = (f: Flow): boolean =>
    cfg.services.some(s => s.address === f.dst && s.port === f.dport && (s.proto === 'tcp' ? 6 : 17) === f.proto)

  const send = (records: readonly SyncRecord[], to: readonly HostPort[], type: 1 | 2 = MSG_DATA, flags = 0): void => {
    if (to.length === 0 || (records.length === 0 && type === MSG_DATA)) return
    const grams = packDatagrams({ type, flags, epoch, sender: cfg.node }, records, cfg.maxDatagram, cfg.hmac, cfg.key, () => ++seq)
    for (const r of records) metrics.records.inc({ direction: 'sent', kind: r.kind })
    // One sequence space per sender: every target sees every datagram, so
    // a point-to-point answer would look like loss to the others; resync
    // requests and answers go to everyone (entries are idempotent).
    const all = targets()
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
        send(out, targets())
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
    local.seen(f, now())
  }

  /** Flows this master holds the VIP for, from a fresh kernel dump. */
  const localFull = async (): Promise<Flow[]> => {
    const rows = await kernel.dump()
    const flows = rows
      .filter(r => matches(r.flow) && isNatted(r.flow) && isLocal(r.flow.dst) && !(r.state && CLOSING.has(r.state)))
      .map(r => r.flow)
    return local.reconcile(flows, now())
  }

  let persistLocal: PersistEntry[] = []
  const pollPersistence = async (): Promise<void> => {
    if (!cfg.proxyControl) return
    try {
      const list = (await controlRequest(cfg.proxyControl, 'persist-list', [], 2000)) as {
        service: string; client: string; node: string; expiresInMs: number
      }[]
      persistLocal = list
        .filter(e => {
          const hp = parseHostPort(e.service)
          return hp !== undefined && isLocal(hp.host)
        })
        .map(e => ({ service: e.service, client: e.client, node: e.node, ttl: Math.ceil(e.expiresInMs / 1000) }))
      for (const entry of persistLocal) queue({ kind: 'persist', entry })
    } catch (err) {
      log.debug({ err }, 'persist-list failed')
    }
  }

  const fullRecords = async (): Promise<SyncRecord[]> => [
    ...(await localFull()).map(flow => ({ kind: 'flow' as const, flow })),
    ...persistLocal.map(entry => ({ kind: 'persist' as const, entry })),
  ]

  const serveResync = async (peer: PeerState | undefined, to: HostPort): Promise<void> => {
    const recs = await fullRecords()
    counts.resyncServed++
    metrics.resyncs.inc({ direction: 'served' })
    if (peer) peer.resyncsServed++
    log.info({ peer: peer?.name, to: `${to.host}:${to.port}`, entries: recs.length }, 'full resync sent')
    send(recs, [to], MSG_DATA, FLAG_RESYNC)
  }

  const askResync = (to: readonly HostPort[]): void => {
    counts.resyncRequested++
    metrics.resyncs.inc({ direction: 'requested' })
    send([], to, MSG_RESYNC_REQUEST)
  }

  // One kernel operation per flow at a time: a resync and a refresh can
  // carry the same flow back to back, and a removal must not overtake the
  // insert it cancels (that would leave an ESTABLISHED entry behind).
  const inflight = new Map<string, Promise<void>>()
  const applyFlow = async (peer: string, f: Flow): Promise<void> => {
    if (!matches(f) || isLocal(f.dst)) return
    const { held: h, changed } = held.upsert(peer, f, now())
    const key = flowKey(f)
    if (inflight.has(key)) return
    if (!changed && h.kernelAt > 0 && now() - h.kernelAt < (f.timeout * 1000) / 3) return
    const op = (async () => {
      let ok = false
      if (!changed && h.kernelAt > 0) {
        ok = await kernel.refresh(f)
        metrics.kernelOps.inc({ op: 'refresh', result: ok ? 'ok' : 'failed' })
      }
      if (!ok) {
        // Replace whatever the kernel holds for this tuple: an entry left
        // from when this master was active has stale TCP window data and
        // would mark the returning packets invalid after a fail back.
        await kernel.remove(f)
        ok = await kernel.insert(f)
        if (ok) counts.inserted++
        else counts.insertFailed++
        metrics.kernelOps.inc({ op: 'insert', result: ok ? 'ok' : 'failed' })
      }
      const cur = held.get(key)
      if (ok && cur) cur.kernelAt = now()
    })()
    inflight.set(key, op)
    try {
      await op
    } finally {
      inflight.delete(key)
    }
  }
  const removeFlow = async (f: Flow): Promise<void> => {
    await inflight.get(flowKey(f))
    const ok = await kernel.remove(f)
    metrics.kernelOps.inc({ op: 'delete', result: ok ? 'ok' : 'failed' })
  }

  const onDatagram = (buf: Buffer, rinfo: RemoteInfo): void => {
    let msg
    try {
      msg = decodeMessage(buf, cfg.hmac, cfg.key)
    } catch (e) {
      counts.dropped++
      metrics.dropped.inc({ reason: e instanceof ProtocolError ? e.reason : 'malformed' })
      return
    }
    if (msg.sender === cfg.node) return // our own multicast
    const from = { host: rinfo.address, port: rinfo.port }
    let peer = peers.get(msg.sender)
    if (!peer) {
      peer = { name: msg.sender, address: `${rinfo.address}:${rinfo.port}`, lastSeen: 0, received: 0, lost: 0, resyncsServed: 0, resyncsReceived: 0, lastResyncAsk: 0 }
      peers.set(msg.sender, peer)
    }
    const v = seqs.observe(msg.sender, msg.epoch, msg.seq)
    if (v.kind === 'old') {
      counts.dropped++
      metrics.dropped.inc({ reason: 'replay' })
      return
    }
    peer.lastSeen = now()
    peer.address = `${rinfo.address}:${rinfo.port}`
    peer.received++
    counts.received++
    metrics.datagramsReceived.inc({ peer: msg.sender })
    if (v.kind === 'next' && v.lost > 0) {
      peer.lost += v.lost
      counts.lost += v.lost
      metrics.lost.inc({ peer: msg.sender }, v.lost)
      // Loss is repaired by asking that peer for its full table (rate-limited).
      if (now() - peer.lastResyncAsk > 1000) {
        peer.lastResyncAsk = now()
        askResync([from])
      }
    }
    if (v.kind === 'restart') log.info({ peer: msg.sender }, 'peer restarted')
    if (msg.type === MSG_RESYNC_REQUEST) {
      void serveResync(peer, from)
      return
    }
    if (msg.flags & FLAG_RESYNC) {
      peer.resyncsReceived++
    }
    for (const r of msg.records) {
      metrics.records.inc({ direction: 'received', kind: r.kind })
      if (r.kind === 'flow') void applyFlow(msg.sender, r.flow)
      else if (r.kind === 'remove') {
        const key = flowKey(r.flow)
        const h = held.remove(key)
        if (h && !isLocal(r.flow.dst)) void removeFlow(h.flow)
      } else if (cfg.proxyControl) {
        const hp = parseHostPort(r.entry.service)
        if (hp && !isLocal(hp.host) && r.entry.ttl > 0) {
          void controlRequest(cfg.proxyControl, 'persist-set', [r.entry.service, r.entry.client, r.entry.node, String(r.entry.ttl)], 2000)
            .catch(err => log.debug({ err }, 'persist-set failed'))
        }
      }
    }
  }
  socket.on('message', onDatagram)

  kernel.follow(onRow)

  // Timers: threshold sends, periodic refresh, persistence polling.
  const tick = setInterval(() => {
    for (const flow of local.due(now())) queue({ kind: 'flow', flow })
    held.expire(now())
  }, Math.max(50, Math.min(250, Math.floor(cfg.syncThresholdMs / 2) || 50)))
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
  let persistTimer = cfg.proxyControl ? setInterval(() => void pollPersistence(), cfg.proxyPollMs) : undefined

  let stopHeartbeat: (() => void) | undefined
  const onMembership = (e: MembershipEvent): void => {
    // Logged so an operator (and the full-stack test) can see conn-syncd
    // acted on heartbeatd's view, not only on its own peer traffic.
    log.info({ event: e.kind, node: e.node ?? 'none', ...(e.kind === 'node' ? { alive: e.alive } : {}) }, 'heartbeatd membership event')
    if (e.kind === 'node' && e.alive && e.node !== cfg.node) void fullRecords().then(r => send(r, targets(), MSG_DATA, FLAG_RESYNC))
    if (e.kind === 'active' && e.node === cfg.node) void refresh()
  }
  if (cfg.heartbeat) stopHeartbeat = followHeartbeat(cfg.heartbeat, onMembership, log)

  // A (re)joining master asks for everything; repeated because UDP.
  const askTimers: NodeJS.Timeout[] = []
  askResync(targets())
  for (const ms of [500, 2000]) askTimers.push(setTimeout(() => askResync(targets()), ms))
  log.info({ listen: `${bound.address}:${bound.port}`, peers: targets().map(t => `${t.host}:${t.port}`), node: cfg.node }, 'conn-syncd running')

  const status = () => {
    const byPeer = held.countByPeer()
    metrics.local.set(local.size)
    for (const [p, n] of byPeer) metrics.held.set({ peer: p }, n)
    return {
      node: cfg.node,
      listen: `${bound.address}:${bound.port}`,
      localFlows: local.size,
      heldEntries: held.size,
      /** Held entries not yet in the kernel. */
      kernelPending: [...held.values()].filter(h => h.kernelAt === 0).length,
      ...counts,
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

  return {
    metrics,
    registry: metrics.registry,
    address: { host: bound.address, port: bound.port },
    status,
    commands: {
      resync: () => {
        askResync(targets())
        return { requested: true }
      },
      flows: () => [...held.values()].map(h => ({ peer: h.peer, inKernel: h.kernelAt > 0, ...h.flow })),
    },
    reload(next) {
      for (const k of ['node', 'listen', 'multicast', 'conntrack', 'entryTimeoutS', 'heartbeat'] as const) {
        if (JSON.stringify(next[k]) !== JSON.stringify(cfg[k])) log.warn({ directive: k }, 'directive changes only on restart')
      }
      const { multicast: _m, heartbeat: _h, ...rest } = next
      cfg = {
        ...rest,
        node: cfg.node,
        listen: cfg.listen,
        conntrack: cfg.conntrack,
        entryTimeoutS: cfg.entryTimeoutS,
        ...(cfg.multicast ? { multicast: cfg.multicast } : {}),
        ...(cfg.heartbeat ? { heartbeat: cfg.heartbeat } : {}),
      }
      local.thresholdMs = cfg.syncThresholdMs
      clearInterval(refreshTimer)
      refreshTimer = setInterval(() => void refresh(), cfg.refreshIntervalMs)
      if (persistTimer) clearInterval(persistTimer)
      persistTimer = cfg.proxyControl ? setInterval(() => void pollPersistence(), cfg.proxyPollMs) : undefined
    },
    async close() {
      clearInterval(tick)
      clearInterval(refreshTimer)
      if (persistTimer) clearInterval(persistTimer)
      for (const t of askTimers) clearTimeout(t)
      stopHeartbeat?.()
      kernel.close()
      await new Promise<void>(r => socket.close(() => r()))
    },
  }
}
