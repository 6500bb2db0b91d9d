// Which nodes serve which service: the live table (reports in, expiry)
// and the autojoin ranges that let unlisted nodes join a service. The
// ranges and the table change together on reload.

import { BlockList, isIPv4 } from 'node:net'
import type { TmConfig, ServiceConfig } from './config.js'
import { LiveTable, type AutojoinPolicy } from './live-table.js'
import { ReportSources, hostAddresses } from './report-sources.js'
import type { ServiceNodeRef } from './manager-state.js'

/** True for this host's addresses (the VIP once heartbeatd adds it). */
export const isLocalAddress = hostAddresses()

export class Membership {
  readonly table: LiveTable
  #ranges = new Map<string, BlockList>()

  constructor(config: TmConfig, now: () => number) {
    this.table = new LiveTable({ ...this.#configure(config), now })
  }

  /** Applies a reloaded config; nodes that stay keep their state. */
  reconfigure(next: TmConfig): void {
    this.table.reconfigure(this.#configure(next))
  }

  /** Does the service take auto-joined nodes? */
  autojoins(service: string): boolean {
    return this.#ranges.has(service)
  }

  /** A service's nodes: those listed, then auto-joined ones in its ranges (port: the VIP's). */
  nodesOf(s: ServiceConfig): ServiceNodeRef[] {
    const out: ServiceNodeRef[] = [...s.nodes]
    const ranges = this.#ranges.get(s.name)
    if (!ranges) return out
    for (const e of this.table.entries()) {
      if (
        e.auto &&
        inList(ranges, e.address) &&
        !s.nodes.some(n => n.address === e.address)
      )
        out.push({ address: e.address, port: s.port, auto: true })
    }
    return out
  }

  /** The services whose autojoin ranges hold `node`. */
  servicesOf(node: string): string[] {
    return [...this.#ranges]
      .filter(([, b]) => inList(b, node))
      .map(([name]) => name)
  }

  /** Takes `c`'s autojoin ranges; returns the live table's options for `c`. */
  #configure(c: TmConfig) {
    this.#ranges = new Map(
      c.services
        .filter(s => s.autojoin.length)
        .map(s => [s.name, cidrList(s.autojoin)]),
    )
    const ranges = [...this.#ranges.values()]
    const autojoin: AutojoinPolicy | undefined = ranges.length
      ? { max: c.autojoinMax, allowed: a => ranges.some(b => inList(b, a)) }
      : undefined
    return {
      nodes: c.nodes,
      key: c.key,
      timeoutMs: c.timeoutMs,
      sources: new ReportSources({
        masters: c.masters,
        allow: c.reportFrom,
        isLocal: isLocalAddress,
      }),
      autojoin,
    }
  }
}

/** `autojoin` ranges (`<address>/<prefix>`, validated by the config parser). */
function cidrList(cidrs: readonly string[]): BlockList {
  const b = new BlockList()
  for (const c of cidrs) {
    const [net = '', len = ''] = c.split('/')
    b.addSubnet(net, Number(len), isIPv4(net) ? 'ipv4' : 'ipv6')
  }
  return b
}

function inList(b: BlockList, address: string): boolean {
  try {
    return b.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
  } catch {
    return false
  }
}
