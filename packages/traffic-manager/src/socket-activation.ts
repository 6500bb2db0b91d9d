// systemd socket activation (sd_listen_fds(3)): listening sockets the
// service manager holds and passes at fds 3.. (LISTEN_FDS, LISTEN_PID,
// LISTEN_FDNAMES). The manager keeps them open, so the kernel queues
// connections while traffic-manager restarts; a virtual service whose
// address matches one listens on it instead of binding. The parsers are
// pure; inheritedSockets() reads /proc to learn each socket's address.

import { readFileSync, readlinkSync } from 'node:fs'

export const SD_LISTEN_FDS_START = 3

export interface ListenFd {
  readonly fd: number
  /** From LISTEN_FDNAMES (FileDescriptorName=), or "unknown". */
  readonly name: string
}

export interface InheritedSocket extends ListenFd {
  /** Canonical bound address (IPv6 without brackets) and port. */
  readonly address: string
  readonly port: number
}

/** The fds passed to this process, or none when the variables are not for us. */
export function listenFds(
  env: Readonly<Record<string, string | undefined>>,
  pid: number,
): ListenFd[] {
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return []
  const n = Number(env.LISTEN_FDS)
  if (!Number.isInteger(n) || n <= 0 || n > 1000) return []
  const names = env.LISTEN_FDNAMES?.split(':') ?? []
  return Array.from({ length: n }, (_, i) => ({
    fd: SD_LISTEN_FDS_START + i,
    name: names[i] || 'unknown',
  }))
}

/** Canonical text of an IP address, so `::0:1` and `::1` compare equal. */
export function canonicalAddress(a: string): string {
  if (!a.includes(':')) return a
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1)
  } catch {
    return a
  }
}

/** Listening sockets (state 0A) of /proc/net/tcp or tcp6, by inode. */
export function parseProcNetTcp(
  text: string,
): Map<string, { address: string; port: number }> {
  const out = new Map<string, { address: string; port: number }>()
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    const [local, state, inode] = [f[1], f[3], f[9]]
    if (!local || state !== '0A' || !inode) continue
    const [hex = '', portHex = ''] = local.split(':')
    out.set(inode, { address: hexAddress(hex), port: parseInt(portHex, 16) })
  }
  return out
}

// The kernel prints each 32-bit word of the address in host order
// (little-endian on every platform this runs on).
function hexAddress(hex: string): string {
  const bytes: number[] = []
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8)
    for (let b = 6; b >= 0; b -= 2)
      bytes.push(parseInt(word.slice(b, b + 2), 16))
  }
  if (bytes.length === 4) return bytes.join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
  const v6 = canonicalAddress(groups.join(':'))
  return v6.startsWith('::ffff:') && v6.includes('.') ? v6.slice(7) : v6
}

/**
 * The sockets passed by the service manager with their bound addresses.
 * Clears LISTEN_* from the environment (children must not take them);
 * fds that are not listening TCP sockets are returned in `skipped`.
 */
export function inheritedSockets(
  env: Record<string, string | undefined> = process.env,
  pid: number = process.pid,
): { sockets: InheritedSocket[]; skipped: ListenFd[] } {
  const fds = listenFds(env, pid)
  delete env.LISTEN_PID
  delete env.LISTEN_FDS
  delete env.LISTEN_FDNAMES
  if (fds.length === 0) return { sockets: [], skipped: [] }
  const listening = new Map<string, { address: string; port: number }>()
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const [k, v] of parseProcNetTcp(readFileSync(f, 'utf8')))
        listening.set(k, v)
    } catch {
      // No IPv6 in this kernel: nothing to read.
    }
  }
  const sockets: InheritedSocket[] = []
  const skipped: ListenFd[] = []
  for (const l of fds) {
    let inode: string | undefined
    try {
      inode = /^socket:\[(\d+)\]$/.exec(
        readlinkSync(`/proc/self/fd/${l.fd}`),
      )?.[1]
    } catch {
      inode = undefined
    }
    const a = inode === undefined ? undefined : listening.get(inode)
    if (a) sockets.push({ ...l, ...a })
    else skipped.push(l)
  }
  return { sockets, skipped }
}

/** The inherited socket a service at address:port should use, if any. */
export function matchInherited(
  sockets: readonly InheritedSocket[],
  address: string,
  port: number,
): InheritedSocket | undefined {
  const want = canonicalAddress(address)
  return sockets.find(s => s.port === port && s.address === want)
}
