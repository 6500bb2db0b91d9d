// The load-report datagram: how a traffic node (traffic-client), or a
// health checker speaking for it (ldirectord), tells a traffic-manager its
// load index. Pure codec; sockets live elsewhere. Grammar in PROTOCOL.md:
//
//   LOAD 1 <node> <load> <state> <sender> <epoch> <seq>[ <key>=<value>...][ mac=<hex>]
//
// The MAC (HMAC-SHA256, shared key) covers every byte before " mac=".

import { isIP } from 'node:net'
import { hmacHex, verifyHmacHex } from '@has/daemon-kit/core'

export const REPORT_VERSION = 1
/** Longest datagram accepted; fits any IPv6 minimum MTU. */
export const REPORT_MAX_BYTES = 1024

export const REPORT_STATES = ['up', 'drain', 'down'] as const
export type ReportState = (typeof REPORT_STATES)[number]

export interface LoadReport {
  /** The node's address as configured on the manager (IPv4 or IPv6). */
  readonly node: string
  /** Load index: larger = more spare capacity; 0 = none spare, not a drain. */
  readonly load: number
  /** up: schedule by load; drain: no new connections; down: remove now. */
  readonly state: ReportState
  /** Who speaks: e.g. `tc` (traffic-client) or `ld` (ldirectord). */
  readonly sender: string
  /** Sender start time in ms; grows across restarts (replay protection). */
  readonly epoch: number
  /** +1 per report round; every master gets the same seq (and MAC). */
  readonly seq: number
  /** Extension fields; receivers ignore keys they do not know. */
  readonly ext?: Readonly<Record<string, string>>
}

export type ReportParseError =
  | 'TM_ERR_REPORT_SYNTAX'
  | 'TM_ERR_REPORT_VERSION'
  | 'TM_ERR_REPORT_FIELD'
  | 'TM_ERR_REPORT_TOO_LONG'

export type ParsedReport =
  | { ok: true; report: LoadReport; mac?: string; signed: string }
  | { ok: false; error: ReportParseError; detail: string }

const TOKEN = /^[A-Za-z0-9._:@-]{1,64}$/
const EXT = /^([a-z][a-z0-9_-]{0,31})=([^\s=]{0,128})$/

/** Formats a report line (no newline), signed when a key is given. */
export function formatReport(r: LoadReport, key?: string | Buffer): string {
  let line = `LOAD ${REPORT_VERSION} ${r.node} ${Math.max(0, Math.round(r.load))} ${r.state} ${r.sender} ${r.epoch} ${r.seq}`
  for (const [k, v] of Object.entries(r.ext ?? {})) line += ` ${k}=${v}`
  if (key !== undefined) line += ` mac=${hmacHex('sha256', key, line)}`
  return line
}

/** Parses one datagram; never throws. */
export function parseReport(data: Buffer | string): ParsedReport {
  if (data.length > REPORT_MAX_BYTES) {
    return {
      ok: false,
      error: 'TM_ERR_REPORT_TOO_LONG',
      detail: `${data.length} bytes`,
    }
  }
  const text = (
    typeof data === 'string' ? data : data.toString('latin1')
  ).replace(/\r?\n$/, '')
  if (/[^\x20-\x7e]/.test(text)) {
    return {
      ok: false,
      error: 'TM_ERR_REPORT_SYNTAX',
      detail: 'non-printable byte',
    }
  }
  let signed = text
  let mac: string | undefined
  const m = / mac=([0-9a-f]+)$/.exec(text)
  if (m) {
    signed = text.slice(0, m.index)
    mac = m[1]
  }
  const words = signed.split(' ')
  if (words[0] !== 'LOAD' || words.length < 8) {
    return {
      ok: false,
      error: 'TM_ERR_REPORT_SYNTAX',
      detail: 'expected LOAD and 7 fields',
    }
  }
  if (words[1] !== String(REPORT_VERSION)) {
    return {
      ok: false,
      error: 'TM_ERR_REPORT_VERSION',
      detail: `version ${words[1]}`,
    }
  }
  const [
    ,
    ,
    node = '',
    load = '',
    state = '',
    sender = '',
    epoch = '',
    seq = '',
    ...rest
  ] = words
  if (isIP(node) === 0) return bad(`node "${node}" is not an IP address`)
  if (!/^\d{1,12}$/.test(load)) return bad(`load "${load}"`)
  if (!(REPORT_STATES as readonly string[]).includes(state))
    return bad(`state "${state}"`)
  if (!TOKEN.test(sender)) return bad(`sender "${sender}"`)
  if (!isCounter(epoch)) return bad(`epoch "${epoch}"`)
  if (!isCounter(seq)) return bad(`seq "${seq}"`)
  const ext: Record<string, string> = {}
  for (const w of rest) {
    const e = EXT.exec(w)
    if (!e) return bad(`extension "${w}"`)
    ext[e[1] as string] = e[2] as string
  }
  const report: LoadReport = {
    node,
    load: Number(load),
    state: state as ReportState,
    sender,
    epoch: Number(epoch),
    seq: Number(seq),
    ...(rest.length ? { ext } : {}),
  }
  return mac === undefined
    ? { ok: true, report, signed }
    : { ok: true, report, mac, signed }
}

/** Epoch and seq: 1-16 digits that a double holds exactly (<= 2^53 - 1). */
function isCounter(s: string): boolean {
  return /^\d{1,16}$/.test(s) && Number(s) <= Number.MAX_SAFE_INTEGER
}

function bad(detail: string): ParsedReport {
  return { ok: false, error: 'TM_ERR_REPORT_FIELD', detail }
}

/** True when the parsed datagram's MAC matches `key`. */
export function verifyReport(
  p: { mac?: string; signed: string },
  key: string | Buffer,
): boolean {
  return p.mac !== undefined && verifyHmacHex('sha256', key, p.signed, p.mac)
}
