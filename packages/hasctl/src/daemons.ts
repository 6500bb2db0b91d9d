// The daemons hasctl knows, in the order its summary shows them.

export const DAEMONS = [
  'heartbeatd',
  'traffic-manager',
  'ldirectord',
  'conn-syncd',
  'erd',
  'ha-nfs-mount',
  'radvd-lite',
  'traffic-client',
] as const

export type DaemonName = (typeof DAEMONS)[number]

export function isDaemonName(s: string): s is DaemonName {
  return (DAEMONS as readonly string[]).includes(s)
}
