// Typed wrapper over the C addon (native/icmp6.c): a raw ICMPv6 socket
// bound to one interface. Loaded lazily so the pure parts (config, codecs,
// scheduler) work on a machine where the addon was not built.

import { createRequire } from 'node:module'
import { raError } from './errors.js'

export interface Received {
  readonly data: Buffer
  readonly src: string
  /** IPv6 hop limit of the received packet (-1 if the kernel gave none). */
  readonly hopLimit: number
  readonly ifindex: number
  readonly dst: string
}

interface Addon {
  open(
    opts: { ifname: string; types: number[]; groups: string[]; loop: boolean },
    cb: (
      buf: Buffer,
      src: string,
      hop: number,
      ifindex: number,
      dst: string,
    ) => void,
  ): { readonly ifindex: number }
  send(
    h: object,
    buf: Buffer,
    dst: string,
    src: string | null,
    hop: number,
  ): number
  close(h: object): void
  ifindex(name: string): number
}

let addon: Addon | undefined

/** dist/native.js -> ../build/Release/icmp6.node (built by `npm ci`). */
export const ADDON_PATH = '../build/Release/icmp6.node'

/**
 * Loads the addon. A missing build (no toolchain at install) or a file
 * that will not load is RA_ERR_NATIVE, whose message says how to fix it,
 * rather than a bare MODULE_NOT_FOUND from deep inside the daemon.
 */
export function loadAddon(path = ADDON_PATH): Addon {
  try {
    return createRequire(import.meta.url)(path) as Addon
  } catch (e) {
    const code = (e as { code?: string }).code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_DLOPEN_FAILED') {
      throw raError('RA_ERR_NATIVE', (e as Error).message.split('\n')[0], e)
    }
    throw e
  }
}

function load(): Addon {
  addon ??= loadAddon()
  return addon
}

export interface IcmpSocketOptions {
  readonly ifname: string
  /** ICMPv6 types let through the kernel filter (133 RS, 134 RA). */
  readonly types: readonly number[]
  /** Multicast groups joined on the interface (ff02::2 for a router). */
  readonly groups?: readonly string[]
  /** Receive our own multicast sends (off for the daemon). */
  readonly loop?: boolean
  readonly onPacket: (p: Received) => void
}

export interface IcmpSocket {
  readonly ifname: string
  readonly ifindex: number
  /** Sends one ICMPv6 message; the kernel fills in the checksum. */
  send(data: Buffer, dst: string, src?: string, hopLimit?: number): void
  close(): void
}

/** Opens the socket; throws with code EPERM (no CAP_NET_RAW), ENODEV... */
export function openIcmpSocket(opts: IcmpSocketOptions): IcmpSocket {
  const a = load()
  const h = a.open(
    {
      ifname: opts.ifname,
      types: [...opts.types],
      groups: [...(opts.groups ?? [])],
      loop: opts.loop ?? false,
    },
    (data, src, hopLimit, ifindex, dst) =>
      opts.onPacket({ data, src, hopLimit, ifindex, dst }),
  )
  let closed = false
  return {
    ifname: opts.ifname,
    ifindex: h.ifindex,
    send(data, dst, src, hopLimit = 255) {
      a.send(h, data, dst, src ?? null, hopLimit)
    },
    close() {
      if (closed) return
      closed = true
      a.close(h)
    },
  }
}

/** Interface index, 0 when the interface does not exist. */
export function interfaceIndex(name: string): number {
  return load().ifindex(name)
}
