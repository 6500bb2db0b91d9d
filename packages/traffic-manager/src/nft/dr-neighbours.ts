// Where direct routing sends a node's packets: the interface the route to
// the node leaves by (it must be on-link: no gateway), and the node's MAC
// from the neighbour table, probed with one ping when the kernel does not
// know it yet. Parsers are pure; the resolvers run `ip`/`ping` through the
// data plane's exec, so tests can aim them at a namespace.

import type { Exec } from './kernel-exec.js'

export interface RouteInfo {
  readonly dev?: string
  readonly gateway?: string
  readonly type?: string
}

/** First route of `ip -j route get <addr>`; undefined if unparsable. */
export function parseRouteGet(json: string): RouteInfo | undefined {
  try {
    const r = (
      JSON.parse(json) as { dev?: unknown; gateway?: unknown; type?: unknown }[]
    )[0]
    if (!r) return undefined
    return {
      ...(typeof r.dev === 'string' ? { dev: r.dev } : {}),
      ...(typeof r.gateway === 'string' ? { gateway: r.gateway } : {}),
      ...(typeof r.type === 'string' ? { type: r.type } : {}),
    }
  } catch {
    return undefined
  }
}

const USABLE = new Set([
  'REACHABLE',
  'STALE',
  'DELAY',
  'PROBE',
  'PERMANENT',
  'NOARP',
])

/** The MAC of `addr` in `ip -j neigh show to <addr> dev <dev>`, if usable. */
export function parseNeighMac(json: string, addr: string): string | undefined {
  try {
    for (const n of JSON.parse(json) as {
      dst?: unknown
      lladdr?: unknown
      state?: unknown
    }[]) {
      if (n.dst !== addr || typeof n.lladdr !== 'string') continue
      const states = Array.isArray(n.state) ? (n.state as unknown[]) : []
      if (states.some(s => typeof s === 'string' && USABLE.has(s)))
        return n.lladdr.toLowerCase()
    }
  } catch {
    /* not JSON: treated as unknown */
  }
  return undefined
}

export type Resolved =
  | { readonly ok: true; readonly dev: string; readonly mac: string }
  | {
      readonly ok: false
      readonly reason: 'not-on-link' | 'no-route' | 'no-mac'
      readonly detail: string
    }

export async function routeTo(
  exec: Exec,
  host: string,
): Promise<RouteInfo | undefined> {
  const r = await exec('ip', ['-j', 'route', 'get', host])
  return r.code === 0 ? parseRouteGet(r.stdout) : undefined
}

/** Resolves one node: its interface (on-link only) and MAC. */
export async function resolveNode(
  exec: Exec,
  host: string,
  wantDev?: string,
): Promise<Resolved> {
  const route = await routeTo(exec, host)
  if (!route?.dev)
    return { ok: false, reason: 'no-route', detail: `no route to ${host}` }
  if (route.gateway) {
    return {
      ok: false,
      reason: 'not-on-link',
      detail: `the route to it goes via ${route.gateway} on ${route.dev}`,
    }
  }
  if (route.type === 'local' || route.dev === 'lo') {
    return {
      ok: false,
      reason: 'not-on-link',
      detail: 'it is an address of this host',
    }
  }
  if (wantDev && route.dev !== wantDev) {
    return {
      ok: false,
      reason: 'not-on-link',
      detail: `it is reached by ${route.dev}, not by interface ${wantDev}; option node-interfaces any forwards to it through ${route.dev}`,
    }
  }
  const dev = route.dev
  const look = async (): Promise<string | undefined> => {
    const r = await exec('ip', ['-j', 'neigh', 'show', 'to', host, 'dev', dev])
    return r.code === 0 ? parseNeighMac(r.stdout, host) : undefined
  }
  let mac = await look()
  if (!mac) {
    // One echo makes the kernel resolve the address (ARP or ND).
    await exec('ping', [
      '-n',
      '-q',
      '-c',
      '1',
      '-W',
      '1',
      '-I',
      dev,
      host,
    ]).catch(() => undefined)
    mac = await look()
  }
  if (!mac)
    return {
      ok: false,
      reason: 'no-mac',
      detail: `no ARP/ND answer from ${host} on ${dev}`,
    }
  return { ok: true, dev, mac }
}

/** The MAC of a local interface, from `ip -j link show dev <dev>`. */
export function parseLinkMac(json: string): string | undefined {
  try {
    const a = (JSON.parse(json) as { address?: unknown }[])[0]?.address
    return typeof a === 'string' && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(a)
      ? a.toLowerCase()
      : undefined
  } catch {
    return undefined
  }
}

export async function linkMac(
  exec: Exec,
  dev: string,
): Promise<string | undefined> {
  const r = await exec('ip', ['-j', 'link', 'show', 'dev', dev])
  return r.code === 0 ? parseLinkMac(r.stdout) : undefined
}
