// A synchronised connection: the ORIGINAL tuple plus the NAT mapping the
// active master chose (reply source = backend, reply destination = the SNAT
// address). That is all a peer needs for `conntrack -I ... --dst-nat
// --src-nat`, so a packet arriving after a failover is translated the same.

export interface Flow {
  readonly family: 4 | 6
  /** IP protocol number: 6 tcp, 17 udp. */
  readonly proto: number
  readonly src: string
  readonly dst: string
  readonly sport: number
  readonly dport: number
  /** DNAT target (reply source). */
  readonly natDst: string
  readonly natDport: number
  /** SNAT address (reply destination). */
  readonly natSrc: string
  readonly natSport: number
  /** Seconds the peer should keep the entry without a refresh. */
  readonly timeout: number
}

export type FlowKey = string

/** The ORIGINAL tuple identifies a flow on every master. */
export function flowKey(
  f: Pick<Flow, 'proto' | 'src' | 'dst' | 'sport' | 'dport'>,
): FlowKey {
  return `${f.proto}|${f.src}|${f.sport}|${f.dst}|${f.dport}`
}

export interface PersistEntry {
  readonly service: string
  readonly client: string
  readonly node: string
  /** Remaining lifetime in seconds. */
  readonly ttl: number
}

export const PROTO_NUMBERS: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
}
export const PROTO_NAMES: Readonly<Record<number, string>> = {
  6: 'tcp',
  17: 'udp',
}
