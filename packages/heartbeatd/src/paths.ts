// Turns the media lines into concrete heartbeat paths on this host, and
// maps a received datagram back to the path it came in on (by its medium
// and the interface subnet holding its source address). Pure: the
// interface table is passed in.

import type { NetworkInterfaceInfo } from 'node:os'
import type { Medium } from './config.js'
import type { Via } from './packet.js'

export interface PathSpec {
  /** `ucast eth1`, `bcast eth0`, `mcast eth0`: status, metrics, logs. */
  readonly name: string
  readonly kind: Medium['kind']
  readonly via: Via
  readonly iface: string
  readonly localAddr: string
  readonly netmask: string
  /** Where our heartbeats go. */
  readonly dest: string
  readonly port: number
  readonly ttl: number
  readonly loop: boolean
  /** Multicast group to join on the receive socket. */
  readonly group?: string
}

export type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>

const toInt = (ip: string): number =>
  ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0)
const toIp = (n: number): string =>
  [24, 16, 8, 0].map(s => (n >>> s) & 255).join('.')

export function inSubnet(addr: string, net: string, mask: string): boolean {
  const m = toInt(mask)
  return (toInt(addr) & m) >>> 0 === (toInt(net) & m) >>> 0
}

export function broadcastOf(addr: string, mask: string): string {
  return toIp(((toInt(addr) & toInt(mask)) | (~toInt(mask) >>> 0)) >>> 0)
}

function v4(
  ifaces: Interfaces,
  name: string,
): NetworkInterfaceInfo | undefined {
  const list = ifaces[name]?.filter(a => a.family === 'IPv4') ?? []
  return list.find(a => !a.internal) ?? list[0]
}

export interface ResolvedPaths {
  readonly paths: PathSpec[]
  /** Interfaces that have no IPv4 address here, with the line. */
  readonly missing: { iface: string; where: string }[]
}

export function resolvePaths(
  media: readonly Medium[],
  udpport: number,
  ifaces: Interfaces,
): ResolvedPaths {
  const local = new Set(
    Object.values(ifaces).flatMap(l => (l ?? []).map(a => a.address)),
  )
  const paths: PathSpec[] = []
  const missing: { iface: string; where: string }[] = []
  for (const m of media) {
    // The same ha.cf runs on both nodes: a ucast line naming one of our
    // own addresses is the peer's line, as in heartbeat.
    if (m.kind === 'ucast' && local.has(m.peer)) continue
    const a = v4(ifaces, m.iface)
    if (!a) {
      missing.push({ iface: m.iface, where: `${m.at.file}:${m.at.line}` })
      continue
    }
    const name = `${m.kind} ${m.iface}`
    if (paths.some(p => p.name === name)) continue
    const common = {
      name,
      kind: m.kind,
      iface: m.iface,
      localAddr: a.address,
      netmask: a.netmask,
    }
    if (m.kind === 'ucast') {
      paths.push({
        ...common,
        via: 'u',
        dest: m.peer,
        port: udpport,
        ttl: 1,
        loop: false,
      })
    } else if (m.kind === 'bcast') {
      paths.push({
        ...common,
        via: 'b',
        dest: broadcastOf(a.address, a.netmask),
        port: udpport,
        ttl: 1,
        loop: false,
      })
    } else {
      paths.push({
        ...common,
        via: 'm',
        dest: m.group,
        port: m.port,
        ttl: m.ttl,
        loop: m.loop,
        group: m.group,
      })
    }
  }
  return { paths, missing }
}

/** The path a datagram from `source` with medium `via` arrived on. */
export function classify(
  paths: readonly PathSpec[],
  via: Via,
  source: string,
): PathSpec | undefined {
  return paths.find(
    p => p.via === via && inSubnet(source, p.localAddr, p.netmask),
  )
}
