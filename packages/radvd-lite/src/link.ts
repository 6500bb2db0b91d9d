// Facts about a local interface the advertiser needs: does it exist, its
// usable link-local address (not tentative: RFC 4861 6.2.2 wants RAs from
// a valid link-local source), MAC and MTU. Read from /proc and /sys, so
// no netlink socket is needed.

import { readFile } from 'node:fs/promises'
import { formatIpv6 } from './config.js'

export interface LinkInfo {
  readonly exists: boolean
  readonly linkLocal?: string
  readonly mac?: string
  readonly mtu?: number
}

const IFA_F_DADFAILED = 0x08
const IFA_F_TENTATIVE = 0x40
const SCOPE_LINK = 0x20

/** Parses /proc/net/if_inet6 for the first usable link-local of `name`. */
export function linkLocalFrom(
  ifInet6: string,
  name: string,
): string | undefined {
  for (const line of ifInet6.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 6 || f[5] !== name) continue
    const scope = parseInt(f[3]!, 16)
    const flags = parseInt(f[4]!, 16)
    if (scope !== SCOPE_LINK || flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))
      continue
    return formatIpv6(Buffer.from(f[0]!, 'hex'))
  }
  return undefined
}

async function read(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch {
    return undefined
  }
}

export async function readLink(name: string): Promise<LinkInfo> {
  const base = `/sys/class/net/${name}`
  const mtu = await read(`${base}/mtu`)
  if (mtu === undefined) return { exists: false }
  const mac = await read(`${base}/address`)
  const linkLocal = linkLocalFrom(
    (await read('/proc/net/if_inet6')) ?? '',
    name,
  )
  return {
    exists: true,
    mtu: Number(mtu),
    // Interfaces without a 6-byte hardware address get no SLLA option.
    ...(mac &&
    /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) &&
    mac !== '00:00:00:00:00:00'
      ? { mac }
      : {}),
    ...(linkLocal ? { linkLocal } : {}),
  }
}
