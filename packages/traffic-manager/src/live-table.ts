// The live node table built from load reports (thesis 3.22.3, 3.24.8,
// 3.24.10): a node is in while it keeps reporting, leaves when it has been
// silent for `timeout` ms, and its next report brings it back. Pure apart
// from the injected clock; the UDP socket lives in report-server.ts.

import { ReplayGuard } from '@has/daemon-kit'
import { parseReport, verifyReport, type ReportState } from './report-protocol.js'
import type { NodeConfig, NodeRole } from './config.js'
import type { TmErrorCode } from './errors.js'

/** unknown: never reported; timeout: silent past `timeout`. */
export type NodeStatus = ReportState | 'unknown' | 'timeout'

export interface NodeEntry {
  readonly address: string
  readonly role: NodeRole
  readonly label: string
  status: NodeStatus
  load: number
  lastReportAt?: number
  sender?: string
  reports: number
}

export const DROP_REASONS = [
  'TM_ERR_REPORT_SYNTAX',
  'TM_ERR_REPORT_VERSION',
  'TM_ERR_REPORT_FIELD',
  'TM_ERR_REPORT_TOO_LONG',
  'TM_ERR_REPORT_UNKNOWN_NODE',
  'TM_ERR_REPORT_MAC',
  'TM_ERR_REPORT_REPLAY',
  'TM_ERR_REPORT_LATE',
] as const satisfies readonly TmErrorCode[]
export type DropReason = (typeof DROP_REASONS)[number]

export type ReceiveResult =
  | { accepted: true; node: string; changed: boolean; statusChanged: boolean }
  | { accepted: false; reason: DropReason; detail: string }

export interface LiveTableOptions {
  nodes: readonly NodeConfig[]
  key?: string | undefined
  timeoutMs: number
  now?: () => number
}

export class LiveTable {
  readonly #nodes = new Map<string, NodeEntry>()
  readonly #guard = new ReplayGuard()
  #key: string | undefined
  #timeoutMs: number
  readonly #now: () => number
  readonly drops: Record<DropReason, number>
  accepted = 0

  constructor(opts: LiveTableOptions) {
    this.#now = opts.now ?? Date.now
    this.#key = opts.key
    this.#timeoutMs = opts.timeoutMs
    this.drops = Object.fromEntries(DROP_REASONS.map(r => [r, 0])) as Record<DropReason, number>
    this.reconfigure(opts)
  }

  /** Applies a new node list and key; nodes that stay keep their state. */
  reconfigure(opts: Omit<LiveTableOptions, 'now'>): void {
    this.#key = opts.key
    this.#timeoutMs = opts.timeoutMs
    const keep = new Set(opts.nodes.map(n => n.address))
    for (const a of this.#nodes.keys()) if (!keep.has(a)) this.#nodes.delete(a)
    for (const n of opts.nodes) {
      const old = this.#nodes.get(n.address)
      this.#nodes.set(n.address, {
        address: n.address,
        role: n.role,
        label: n.label,
        status: old?.status ?? 'unknown',
        load: old?.load ?? 0,
        reports: old?.reports ?? 0,
        ...(old?.lastReportAt !== undefined ? { lastReportAt: old.lastReportAt } : {}),
        ...(old?.sender !== undefined ? { sender: old.sender } : {}),
      })
    }
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

  /** Handles one datagram. Order matters: parse, node known, MAC, replay, late. */
  receive(data: Buffer | string): ReceiveResult {
    const p = parseReport(data)
    if (!p.ok) return this.#drop(p.error, p.detail)
    const r = p.report
    const entry = this.#nodes.get(r.node)
    if (!entry) return this.#drop('TM_ERR_REPORT_UNKNOWN_NODE', r.node)
    // Check the MAC before the replay window so forgeries cannot move it.
    if (this.#key !== undefined && !verifyReport(p, this.#key)) {
      return this.#drop('TM_ERR_REPORT_MAC', p.mac === undefined ? 'no mac' : 'mac mismatch')
    }
    const verdict = this.#guard.check(`${r.sender}|${r.node}`, r.epoch, r.seq)
    if (verdict === 'replay' || verdict === 'stale') {
      return this.#drop('TM_ERR_REPORT_REPLAY', `${verdict} ${r.sender} ${r.epoch}/${r.seq}`)
    }
    // A report is a snapshot: one older than the newest applied would roll
    // the node back (an `up` overtaken by a `drain`).
    if (verdict === 'late') {
      return this.#drop('TM_ERR_REPORT_LATE', `${r.sender} ${r.epoch}/${r.seq} arrived after a newer one`)
    }
    this.accepted++
    const prevStatus = entry.status
    const prevLoad = entry.load
    entry.status = r.state
    entry.load = r.load
    entry.lastReportAt = this.#now()
    entry.sender = r.sender
    entry.reports++
    return {
      accepted: true,
      node: r.node,
      statusChanged: prevStatus !== r.state,
      changed: prevStatus !== r.state || prevLoad !== r.load,
    }
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
      }
    }
    return gone
  }

  /** When the next node would time out (clock ms), if any is in. */
  nextExpiry(): number | undefined {
    let next: number | undefined
    for (const e of this.#nodes.values()) {
      if (e.status === 'unknown' || e.status === 'timeout' || e.lastReportAt === undefined) continue
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
