// After a failover the new active master may still hold conntrack entries
// of its own from an earlier turn as the active one, for the very flows its
// peer has carried since; their TCP window state is stale, so with strict
// window tracking the kernel marks the flows' packets INVALID, they skip
// NAT and the local stack resets them. conntrackd avoids this by creating
// its entries with window tracking off; a synced entry meeting an existing
// one cannot do that, so the masters need the sysctl below (only
// out-of-window RSTs stay INVALID). Checked at start and named when off.

import { readFileSync } from 'node:fs'
import type { Logger } from '@has/daemon-kit'

export const TCP_LIBERAL_SYSCTL = 'net.netfilter.nf_conntrack_tcp_be_liberal'

const PATH = '/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal'

/** 'on', 'off', or 'unknown' when the sysctl cannot be read. */
export function checkTcpLiberal(
  log: Logger,
  read: () => string = () => readFileSync(PATH, 'utf8'),
): 'on' | 'off' | 'unknown' {
  let v: string
  try {
    v = read().trim()
  } catch {
    return 'unknown'
  }
  if (v !== '0') return 'on'
  log.warn(
    { sysctl: TCP_LIBERAL_SYSCTL, value: 0 },
    `${TCP_LIBERAL_SYSCTL} is 0: after a second failover, entries this master kept from its own turn as the active one can reject the synced flows' packets as out of window; set it to 1 (docs/deployment.md)`,
  )
  return 'off'
}
