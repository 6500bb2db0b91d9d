// The live node table built from load reports (thesis 3.22.3, 3.24.8,
// 3.24.10): a node is in while it keeps reporting, leaves when it has been
// silent for `timeout` ms, and its next report brings it back. Pure apart
// from the injected clock; the UDP socket lives in report-server.ts.

import { ReplayGuard } from '@has/daemon-kit/core'
import {
  parseReport,
  verifyReport,
  type ReportState,
} from './report-protocol.js'
import type { NodeConfig, NodeRole } from './config.js'
import type { ErrorCode } from './errors.js'
import type { ReportSources } from './report-sources.js'

/**
 * Replay state entries kept, one per (sender, node): a datagram names its
 * sender, so without a cap a keyless flood of invented names grows memory
 * without bound. Least recently used goes first (counted).
 */
export const REPLAY_STATE_MAX = 4096

/** unknown: never reported; timeout: silent past `timeout`. */
export type NodeStatus = ReportState | 'unknown' | 'timeout'

export interface NodeEntry {
  readonly address: string
  readonly role: NodeRole
  readonly label: string
  status: NodeStatus
  /** The state its last report gave; kept when it times out (plan.ts fail-static). */
  reported?: ReportState
  load: number
  lastReportAt?: number
  sender?: string
  reports: number
  /** Joined by itself (autojoin), not listed in the file. */
  auto?: boolean
}

/** Issue 17.6: which unlisted nodes may join, and how many at once. */
export interface AutojoinPolicy {
  /** True when the address is in some service's `autojoin` range. */
  allowed(node: string): boolean
  readonly max: number
}

export const DROP_REASONS = [
  'TM_ERR_REPORT_SYNTAX',
  'TM_ERR_REPORT_VERSION',
  'TM_ERR_REPORT_FIELD',
  'TM_ERR_REPORT_TOO_LONG',
  'TM_ERR_REPORT_UNKNOWN_NODE',
  'TM_ERR_REPORT_SOURCE',
  'TM_ERR_REPORT_MAC',
  'TM_ERR_REPORT_REPLAY',
  'TM_ERR_REPORT_LATE',
  'TM_ERR_REPORT_AUTOJOIN_FULL',
] as const satisfies readonly ErrorCode[]
export type DropReason = (typeof DROP_REASONS)[number]

export type ReceiveResult =
  | {
      accepted: true
      node: string
      changed: boolean
      statusChanged: boolean
      joined?: boolean
    }
  | { accepted: false; reason: DropReason; detail: string }

export interface LiveTableOptions {
  nodes: readonly NodeConfig[]
  key?: string | undefined
  timeoutMs: number
  /** Who may report about which node; absent: anyone (library use). */
  sources?: ReportSources | undefined
  now?: () => number
  /** Cap on replay state entries (default REPLAY_STATE_MAX). */
  replayMax?: number
  /** Unlisted nodes that may join (needs `key`); absent: none. */
  autojoin?: AutojoinPolicy | undefined
}

export class LiveTable {
  readonly #nodes = new Map<string, NodeEntry>()
  readonly #guard = new ReplayGuard()
  /** Replay-state keys in recency order (first = least recently used). */
  readonly #guardKeys = new Set<string>()
  readonly #replayMax: number
  #key: string | undefined
  #sources: ReportSources | undefined
  #timeoutMs: number
  #autojoin: AutojoinPolicy | undefined
  readonly #now: () => number
  /** Auto-joined nodes: joins, leaves (timeout) and refusals since start. */
  readonly autojoinEvents = { join: 0, leave: 0, refused: 0 }
  readonly drops: Record<DropReason, number>
  accepted = 0
  /** Replay state entries dropped to stay under the cap. */
  replayEvictions = 0

  constructor(opts: LiveTableOptions) {
    this.#now = opts.now ?? Date.now
    this.#replayMax = opts.replayMax ?? REPLAY_STATE_MAX
    this.#key = opts.key
    this.#timeoutMs = opts.timeoutMs
    this.drops = Object.fromEntries(DROP_REASONS.map(r => [r, 0])) as Record<
      DropReason,
      number
    >
    this.reconfigure(opts)
  }

  /** Applies a new node list and key; nodes that stay keep their state. */
  reconfigure(opts: Omit<LiveTableOptions, 'now' | 'replayMax'>): void {
    this.#key = opts.key
    this.#sources = opts.sources
    this.#timeoutMs = opts.timeoutMs
    this.#autojoin = opts.key !== undefined ? opts.autojoin : undefined
    const keep = new Set(opts.nodes.map(n => n.address))
    // Auto-joined nodes stay while the new policy still admits them.
    for (const e of this.#nodes.values())
      if (e.auto && !keep.has(e.address) && this.#autojoin?.allowed(e.address))
        keep.add(e.address)
    for (const a of this.#nodes.keys()) if (!keep.has(a)) this.#nodes.delete(a)
    // Replay state of nodes that left goes with them.
    for (const k of this.#guardKeys) {
      if (!keep.has(k.slice(k.lastIndexOf('|') + 1))) {
        this.#guardKeys.delete(k)
        this.#guard.forget(k)
      }
    }
    for (const n of opts.nodes) {
      const old = this.#nodes.get(n.address)
      // Now listed: no longer auto (it stops counting against the cap).
      this.#nodes.set(n.address, {
        address: n.address,
        role: n.role,
        label: n.label,
        status: old?.status ?? 'unknown',
        ...(old?.reported !== undefined ? { reported: old.reported } : {}),
        load: old?.load ?? 0,
        reports: old?.reports ?? 0,
        ...(old?.lastReportAt !== undefined
          ? { lastReportAt: old.lastReportAt }
          : {}),
        ...(old?.sender !== undefined ? { sender: old.sender } : {}),
      })
    }
  }

  /** Replay state entries held now. */
  get replayStateSize(): number {
    return this.#guardKeys.size
  }

  get timeoutMs(): number {
    return this.#timeoutMs
  }

  get(address: string): NodeEntry | undefined {
    return this.#nodes.get(address)
  }

  entries(): IterableIterator<NodeEntry> {
    return this.#nodes.values()
  }

  /**
   * Handles one datagram from `source` (its sender's address; omitted:
   * not checked). Order matters: parse, node known, source, MAC, replay,
   * late.
   */
  receive(data: Buffer | string, source?: string): ReceiveResult {
    const p = parseReport(data)
    if (!p.ok) return this.#drop(p.error, p.detail)
    const r = p.report
    let entry = this.#nodes.get(r.node)
    // An unlisted node may join only in an autojoin range, from an address
    // allowed to speak for it, with a verified MAC (checked below, before
    // anything is created).
    const joining = !entry && this.#autojoin?.allowed(r.node) === true
    if (!entry && !joining)
      return this.#drop('TM_ERR_REPORT_UNKNOWN_NODE', r.node)
    if (
      source !== undefined &&
      this.#sources &&
      !this.#sources.allowed(r.node, source)
    ) {
      if (joining) this.autojoinEvents.refused++
      return this.#drop(
        'TM_ERR_REPORT_SOURCE',
        `report for ${r.node} from ${source}`,
      )
    }
    // Check the MAC before the replay window so forgeries cannot move it.
    if (this.#key !== undefined && !verifyReport(p, this.#key)) {
      if (joining) this.autojoinEvents.refused++
      return this.#drop(
        'TM_ERR_REPORT_MAC',
        p.mac === undefined ? 'no mac' : 'mac mismatch',
      )
    }
    if (joining) {
      let auto = 0
      for (const e of this.#nodes.values()) if (e.auto) auto++
      if (auto >= (this.#autojoin?.max ?? 0)) {
        this.autojoinEvents.refused++
        return this.#drop(
          'TM_ERR_REPORT_AUTOJOIN_FULL',
          `${r.node}: ${auto} auto-joined nodes held (autojoin-max)`,
        )
      }
    }
    const verdict = this.#guard.check(
      this.#touch(`${r.sender}|${r.node}`),
      r.epoch,
      r.seq,
    )
    if (verdict === 'replay' || verdict === 'stale') {
      return this.#drop(
        'TM_ERR_REPORT_REPLAY',
        `${verdict} ${r.sender} ${r.epoch}/${r.seq}`,
      )
    }
    // A report is a snapshot: one older than the newest applied would roll
    // the node back (an `up` overtaken by a `drain`).
    if (verdict === 'late') {
      return this.#drop(
        'TM_ERR_REPORT_LATE',
        `${r.sender} ${r.epoch}/${r.seq} arrived after a newer one`,
      )
    }
    this.accepted++
    if (!entry) {
      entry = {
        address: r.node,
        role: 'active',
        label: 'auto',
        status: 'unknown',
        load: 0,
        reports: 0,
        auto: true,
      }
      this.#nodes.set(r.node, entry)
      this.autojoinEvents.join++
    }
    const prevStatus = entry.status
    const prevLoad = entry.load
    entry.status = r.state
    entry.reported = r.state
    entry.load = r.load
    entry.lastReportAt = this.#now()
    entry.sender = r.sender
    entry.reports++
    return {
      accepted: true,
      node: r.node,
      statusChanged: prevStatus !== r.state,
      changed: prevStatus !== r.state || prevLoad !== r.load,
      ...(entry.reports === 1 && entry.auto ? { joined: true } : {}),
    }
  }

  /** Marks a replay-state key most recently used; evicts beyond the cap. */
  #touch(k: string): string {
    if (this.#guardKeys.delete(k)) {
      this.#guardKeys.add(k)
      return k
    }
    this.#guardKeys.add(k)
    for (const old of this.#guardKeys) {
      if (this.#guardKeys.size <= this.#replayMax) break
      this.#guardKeys.delete(old)
      this.#guard.forget(old)
      this.replayEvictions++
    }
    return k
  }

  #drop(reason: DropReason, detail: string): ReceiveResult {
    this.drops[reason]++
    return { accepted: false, reason, detail }
  }

  /** Marks silent nodes as timed out; returns the addresses that just left. */
  expire(): string[] {
    const now = this.#now()
    const gone: string[] = []
    for (const e of this.#nodes.values()) {
      if (
        e.status !== 'unknown' &&
        e.status !== 'timeout' &&
        e.lastReportAt !== undefined &&
        now - e.lastReportAt >= this.#timeoutMs
      ) {
        e.status = 'timeout'
        gone.push(e.address)
        // An auto-joined node leaves the table (its replay state stays, so
        // an old report of it cannot be replayed to bring it back).
        if (e.auto) {
          this.#nodes.delete(e.address)
          this.autojoinEvents.leave++
        }
      }
    }
    return gone
  }

  /** When the next node would time out (clock ms), if any is in. */
  nextExpiry(): number | undefined {
    let next: number | undefined
    for (const e of this.#nodes.values()) {
      if (
        e.status === 'unknown' ||
        e.status === 'timeout' ||
        e.lastReportAt === undefined
      )
        continue
      const at = e.lastReportAt + this.#timeoutMs
      if (next === undefined || at < next) next = at
    }
    return next
  }

  /** Report age in ms, for status. */
  ageMs(e: NodeEntry): number | null {
    return e.lastReportAt === undefined ? null : this.#now() - e.lastReportAt
  }
}
