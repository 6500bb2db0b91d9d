// conntrack(8) text in and out: parsing `-E`/`-L -o extended` lines into
// flows and building the `-I`/`-U`/`-D` argument lists. Pure.

import { isIP } from 'node:net'
import { PROTO_NAMES, type Flow } from './flow.js'

export type EventKind = 'NEW' | 'UPDATE' | 'DESTROY' | 'LIST'

export interface ConntrackRow {
  readonly event: EventKind
  readonly state?: string
  /** The kernel's remaining timeout in seconds, when the line shows it. */
  readonly ttl?: number
  /** `[UNREPLIED]`: no packet seen in the reply direction yet. */
  readonly unreplied: boolean
  readonly flow: Flow
}

/**
 * Parses one line; undefined for anything that is not a tcp/udp flow.
 * `maxTimeout` caps the flow's timeout: the entry's own remaining timeout
 * when the line shows it (an ESTABLISHED TCP entry has days), else this.
 */
export function parseConntrackRow(
  line: string,
  maxTimeout = 120,
): ConntrackRow | undefined {
  const words = line.trim().split(/\s+/)
  const ev = /^\[(NEW|UPDATE|DESTROY)\]$/.exec(words[0] ?? '')
  const event: EventKind = ev ? (ev[1] as EventKind) : 'LIST'
  const at = words.findIndex(w => w === 'tcp' || w === 'udp')
  if (at < 0) return undefined
  const proto = words[at] === 'tcp' ? 6 : 17
  // `tcp 6 431999 ESTABLISHED`: protocol number, then the remaining timeout
  // (absent on DESTROY events).
  const ttlWord = /^\d{1,10}$/.test(words[at + 1] ?? '')
    ? words[at + 2]
    : undefined
  const ttl =
    ttlWord !== undefined && /^\d{1,10}$/.test(ttlWord)
      ? Number(ttlWord)
      : undefined
  // A Map: keys come from the line (`constructor=`, `valueOf=` are plain keys).
  const v = new Map<string, string[]>([
    ['src', []],
    ['dst', []],
    ['sport', []],
    ['dport', []],
  ])
  let state: string | undefined
  let unreplied = false
  for (const w of words) {
    if (w === '[UNREPLIED]') unreplied = true
    const eq = w.indexOf('=')
    if (eq < 0) {
      if (
        /^[A-Z_]{4,}$/.test(w) &&
        state === undefined &&
        (v.get('src')?.length ?? 0) === 0
      )
        state = w
      continue
    }
    v.get(w.slice(0, eq))?.push(w.slice(eq + 1))
  }
  const [src, rsrc] = v.get('src') ?? []
  const [dst, rdst] = v.get('dst') ?? []
  const [sport, rsport] = (v.get('sport') ?? []).map(port)
  const [dport, rdport] = (v.get('dport') ?? []).map(port)
  if (
    !src ||
    !dst ||
    !rsrc ||
    !rdst ||
    sport === undefined ||
    dport === undefined ||
    rsport === undefined ||
    rdport === undefined
  ) {
    return undefined
  }
  const family = isIP(src)
  if (family !== 4 && family !== 6) return undefined
  if (isIP(dst) !== family || isIP(rsrc) !== family || isIP(rdst) !== family)
    return undefined
  const timeout = Math.max(1, Math.min(maxTimeout, ttl ?? maxTimeout))
  const flow: Flow = {
    family,
    proto,
    src,
    dst,
    sport,
    dport,
    natDst: rsrc,
    natDport: rsport,
    natSrc: rdst,
    natSport: rdport,
    timeout,
  }
  return {
    event,
    ...(state === undefined ? {} : { state }),
    ...(ttl === undefined ? {} : { ttl }),
    unreplied,
    flow,
  }
}

/**
 * The ORIGINAL destination of a `-E`/`-L` line (its first `dst=` word,
 * what parseConntrackRow takes as `dst`), found without parsing the line.
 * The event follower drops the lines of addresses that are not local
 * services with it: inserting a peer's 10,000 flows makes as many NEW
 * events, and parsing each was a third of the resync's CPU. Undefined
 * when not found (the line is then parsed in full).
 */
export function origDst(line: string): string | undefined {
  const i = line.indexOf(' dst=')
  if (i < 0) return undefined
  const end = line.indexOf(' ', i + 5)
  return line.slice(i + 5, end < 0 ? undefined : end)
}

/** A port number 1..65535, or undefined (a non-port never becomes NaN). */
function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined
  const n = Number(text)
  return n >= 1 && n <= 65535 ? n : undefined
}

/**
 * Whether a flow has completed its handshake and may be synced: TCP in
 * ESTABLISHED (SYN_SENT/SYN_RECV are half-open; the closing states end the
 * flow), UDP once a reply was seen. A half-open flow inserted as
 * ESTABLISHED on a peer would be an un-evictable entry there.
 */
export function isSyncable(
  row: Pick<ConntrackRow, 'state' | 'unreplied' | 'flow'>,
): boolean {
  if (row.flow.proto === 6) return row.state === 'ESTABLISHED'
  return !row.unreplied
}

/** True when the flow was translated (DNAT to a backend) on this master. */
export function isNatted(f: Flow): boolean {
  return f.natDst !== f.dst || f.natDport !== f.dport
}

function hostPort(family: 4 | 6, addr: string, port: number): string {
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`
}

// No `-f`: conntrack refuses it with -I and infers the family from -s/-d.
function tuple(
  f: Pick<Flow, 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'family'>,
): string[] {
  return [
    '-p',
    PROTO_NAMES[f.proto] ?? String(f.proto),
    '-s',
    f.src,
    '-d',
    f.dst,
    '--sport',
    String(f.sport),
    '--dport',
    String(f.dport),
  ]
}

/**
 * `conntrack -I` with the ORIGINAL tuple and the NAT mapping: the kernel
 * derives the reply tuple from --dst-nat/--src-nat (giving the reply tuple
 * explicitly is refused on the kernels we target).
 */
export function insertArgs(f: Flow): string[] {
  const args = ['-I', ...tuple(f)]
  if (f.proto === 6)
    args.push('--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED')
  else args.push('-u', 'SEEN_REPLY,ASSURED')
  args.push('--timeout', String(f.timeout))
  args.push('--dst-nat', hostPort(f.family, f.natDst, f.natDport))
  if (f.natSrc !== f.src || f.natSport !== f.sport)
    args.push('--src-nat', hostPort(f.family, f.natSrc, f.natSport))
  return args
}

export function refreshArgs(f: Flow): string[] {
  return ['-U', ...tuple(f), '--timeout', String(f.timeout)]
}

export type FlowTuple = Pick<
  Flow,
  'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'family'
>

/**
 * One kernel change: put a flow in (replacing what the kernel holds for
 * its tuple), extend the timeout of one that is in, or take one out.
 */
export type KernelOp =
  | { readonly op: 'replace'; readonly flow: Flow }
  | { readonly op: 'refresh'; readonly flow: Flow }
  | { readonly op: 'delete'; readonly flow: FlowTuple }

/**
 * The `conntrack -R` (load-file) line of one op. In conntrack 1.4.7 an
 * insert costs microseconds and a delete (or update) a table walk, so a
 * replace is a bare insert; the rare insert that meets an existing entry
 * (stale, from when this master held the VIP) fails and is redone alone
 * as delete + insert (kernel.ts). A delete or refresh (-U) of a missing
 * entry does not fail a batch; both walk the table, so they stay rare. Every token is a validated address or a number, so a line
 * can never carry a second command.
 */
export function batchLine(k: KernelOp): string {
  // The same tokens as the argument builders, as one string: a resync
  // writes 10,000 of these, and the arrays cost more than the lines.
  const f = k.flow
  const tuple = `-p ${PROTO_NAMES[f.proto] ?? String(f.proto)} -s ${f.src} -d ${f.dst} --sport ${f.sport} --dport ${f.dport}`
  if (k.op === 'delete') return `-D ${tuple}`
  const fl = k.flow
  if (k.op === 'refresh') return `-U ${tuple} --timeout ${fl.timeout}`
  const state = fl.proto === 6 ? '--state ESTABLISHED ' : ''
  const snat =
    fl.natSrc !== fl.src || fl.natSport !== fl.sport
      ? ` --src-nat ${hostPort(fl.family, fl.natSrc, fl.natSport)}`
      : ''
  return `-I ${tuple} ${state}-u SEEN_REPLY,ASSURED --timeout ${fl.timeout} --dst-nat ${hostPort(fl.family, fl.natDst, fl.natDport)}${snat}`
}

export function deleteArgs(f: FlowTuple): string[] {
  return ['-D', ...tuple(f)]
}
