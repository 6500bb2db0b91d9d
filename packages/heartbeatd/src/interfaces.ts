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

const maskOf = (len: number): string =>
  [24, 16, 8, 0]
    .map(s => ((len ? (~0 << (32 - len)) >>> 0 : 0) >>> s) & 255)
    .join('.')

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null
const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined

/**
 * Pure: `ip -j -4 addr show` output as an os.networkInterfaces() table.
 * Every value is type-checked: a field of an unexpected shape skips its
 * entry rather than throwing (the fuzzer found `[null]` did).
 */
export function parseIpAddrJson(text: string): Interfaces {
  const out: Interfaces = {}
  const links: unknown = JSON.parse(text)
  for (const l of Array.isArray(links) ? links : []) {
    if (!isObject(l)) continue
    const ifname = str(l.ifname)
    if (!ifname) continue
    const internal = Array.isArray(l.flags) && l.flags.includes('LOOPBACK')
    for (const a of Array.isArray(l.addr_info) ? l.addr_info : []) {
      if (!isObject(a) || a.family !== 'inet') continue
      const local = str(a.local)
      const len = a.prefixlen
      if (
        !local ||
        typeof len !== 'number' ||
        !Number.isInteger(len) ||
        len < 0 ||
        len > 32
      )
        continue
      const info: NetworkInterfaceInfo = {
        address: local,
        netmask: maskOf(len),
        family: 'IPv4',
        mac: str(l.address) ?? '00:00:00:00:00:00',
        internal,
        cidr: `${local}/${len}`,
      }
      // Keyed by interface, and by label too (eth0:1) as getifaddrs does.
      for (const name of new Set([ifname, str(a.label) ?? ifname]))
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
  for (const [name, list] of Object.entries(base)) out[name] = [...(list ?? [])]
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
