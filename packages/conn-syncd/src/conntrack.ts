// conntrack(8) text in and out: parsing `-E`/`-L -o extended` lines into
// flows and building the `-I`/`-U`/`-D` argument lists. Pure.

import { isIP } from 'node:net'
import { PROTO_NAMES, PROTO_NUMBERS, type Flow } from './flow.js'

export type EventKind = 'NEW' | 'UPDATE' | 'DESTROY' | 'LIST'

export interface ConntrackRow {
  readonly event: EventKind
  readonly state?: string
  readonly flow: Flow
}

/** Parses one line; undefined for anything that is not a tcp/udp flow. */
export function parseConntrackRow(line: string, timeout = 120): ConntrackRow | undefined {
  const words = line.trim().split(/\s+/)
  const ev = /^\[(NEW|UPDATE|DESTROY)\]$/.exec(words[0] ?? '')
  const event: EventKind = ev ? (ev[1] as EventKind) : 'LIST'
  const protoName = words.find(w => w === 'tcp' || w === 'udp')
  if (!protoName) return undefined
  const proto = PROTO_NUMBERS[protoName] as number
  const v: Record<string, string[]> = { src: [], dst: [], sport: [], dport: [] }
  let state: string | undefined
  for (const w of words) {
    const eq = w.indexOf('=')
    if (eq < 0) {
      if (/^[A-Z_]{4,}$/.test(w) && state === undefined && (v.src?.length ?? 0) === 0) state = w
      continue
    }
    v[w.slice(0, eq)]?.push(w.slice(eq + 1))
  }
  const [src, rsrc] = v.src as string[]
  const [dst, rdst] = v.dst as string[]
  const [sport, rsport] = (v.sport as string[]).map(Number)
  const [dport, rdport] = (v.dport as string[]).map(Number)
  if (!src || !dst || !rsrc || !rdst || sport === undefined || dport === undefined || rsport === undefined || rdport === undefined) {
    return undefined
  }
  const family = isIP(src)
  if (family !== 4 && family !== 6) return undefined
  const flow: Flow = {
    family, proto, src, dst, sport, dport,
    natDst: rsrc, natDport: rsport, natSrc: rdst, natSport: rdport, timeout,
  }
  return state === undefined ? { event, flow } : { event, state, flow }
}

/** True when the flow was translated (DNAT to a backend) on this master. */
export function isNatted(f: Flow): boolean {
  return f.natDst !== f.dst || f.natDport !== f.dport
}

function hostPort(family: 4 | 6, addr: string, port: number): string {
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`
}

// No `-f`: conntrack refuses it with -I and infers the family from -s/-d.
function tuple(f: Pick<Flow, 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'family'>): string[] {
  return [
    '-p', PROTO_NAMES[f.proto] ?? String(f.proto),
    '-s', f.src, '-d', f.dst, '--sport', String(f.sport), '--dport', String(f.dport),
  ]
}

/**
 * `conntrack -I` with the ORIGINAL tuple and the NAT mapping: the kernel
 * derives the reply tuple from --dst-nat/--src-nat (giving the reply tuple
 * explicitly is refused on the kernels we target).
 */
export function insertArgs(f: Flow): string[] {
  const args = ['-I', ...tuple(f)]
  if (f.proto === 6) args.push('--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED')
  else args.push('-u', 'SEEN_REPLY,ASSURED')
  args.push('--timeout', String(f.timeout))
  args.push('--dst-nat', hostPort(f.family, f.natDst, f.natDport))
  if (f.natSrc !== f.src || f.natSport !== f.sport) args.push('--src-nat', hostPort(f.family, f.natSrc, f.natSport))
  return args
}

export function refreshArgs(f: Flow): string[] {
  return ['-U', ...tuple(f), '--timeout', String(f.timeout)]
}

export function deleteArgs(f: Pick<Flow, 'proto' | 'src' | 'dst' | 'sport' | 'dport' | 'family'>): string[] {
  return ['-D', ...tuple(f)]
}
