// The host's interface table for resolving heartbeat paths, including
// interfaces without carrier. os.networkInterfaces() (libuv) lists only
// interfaces that are up *and* running: with a direct heartbeat cable to a
// powered-off peer, eth1 has no carrier, so heartbeatd refused to start
// (HB_ERR_INTERFACE) exactly when it had to come up alone and take over.
// `ip -j -4 addr` lists every configured address; its entries are added to
// libuv's table (which stays the fallback when ip cannot run).

import { execFile } from 'node:child_process'
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import type { Interfaces } from './paths.js'

interface IpLink {
  ifname?: string
  flags?: string[]
  address?: string
  addr_info?: {
    family?: string
    local?: string
    prefixlen?: number
    label?: string
  }[]
}

const maskOf = (len: number): string =>
  [24, 16, 8, 0]
    .map(s => ((len ? (~0 << (32 - len)) >>> 0 : 0) >>> s) & 255)
    .join('.')

/** Pure: `ip -j -4 addr show` output as an os.networkInterfaces() table. */
export function parseIpAddrJson(text: string): Interfaces {
  const out: Interfaces = {}
  const links = JSON.parse(text) as IpLink[]
  for (const l of Array.isArray(links) ? links : []) {
    if (!l.ifname) continue
    const internal = l.flags?.includes('LOOPBACK') ?? false
    for (const a of l.addr_info ?? []) {
      if (a.family !== 'inet' || !a.local || a.prefixlen === undefined)
        continue
      const info: NetworkInterfaceInfo = {
        address: a.local,
        netmask: maskOf(a.prefixlen),
        family: 'IPv4',
        mac: l.address ?? '00:00:00:00:00:00',
        internal,
        cidr: `${a.local}/${a.prefixlen}`,
      }
      // Keyed by interface, and by label too (eth0:1) as getifaddrs does.
      for (const name of new Set([l.ifname, a.label ?? l.ifname]))
        (out[name] ??= []).push(info)
    }
  }
  return out
}

/** Adds `extra`'s addresses missing from `base` (base order first). */
export function mergeInterfaces(
  base: Interfaces,
  extra: Interfaces,
): Interfaces {
  const out: Interfaces = {}
  for (const [name, list] of Object.entries(base))
    out[name] = [...(list ?? [])]
  for (const [name, list] of Object.entries(extra)) {
    const have = (out[name] ??= [])
    for (const a of list ?? [])
      if (!have.some(h => h.address === a.address)) have.push(a)
  }
  return out
}

function ipAddrJson(): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('ip', ['-j', '-4', 'addr', 'show'], { timeout: 5000 }, (e, o) =>
      e ? reject(e) : resolve(o),
    ),
  )
}

export async function hostInterfaces(
  read: () => Promise<string> = ipAddrJson,
  base: () => Interfaces = networkInterfaces,
): Promise<Interfaces> {
  try {
    return mergeInterfaces(base(), parseIpAddrJson(await read()))
  } catch {
    return base()
  }
}
