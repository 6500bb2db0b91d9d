// The direct-routing data plane (`dataplane nftables-dr`): the kernel
// rewrites the destination MAC of the client's packets at netdev ingress and
// sends them back out to the chosen node; the node holds the VIP on lo and
// replies to the client itself. New flows are placed by Maglev hashing
// (same table on both masters, so a failover needs no connection sync);
// established flows stay pinned in per-node sets (dr-ruleset.ts).

import type {
  Backend,
  BackendCounters,
  DataPlane,
  DataPlaneContext,
  DataPlaneFactory,
  VirtualServiceSpec,
} from '../data-plane.js'
import { buildMaglevTable, maglevSize } from '../maglev.js'
import { drError } from './dr-errors.js'
import { parseDrListing } from './dr-counters.js'
import { linkMac, resolveNode } from './dr-neighbours.js'
import {
  buildDrDeleteTable,
  buildDrRuleset,
  drNames,
  drTableName,
  maglevId,
  parseDrOptions,
  type DrNode,
  type DrOptions,
} from './dr-ruleset.js'
import { execProgram, hasNetAdmin, type Exec } from './kernel-exec.js'
import { normalizeBackends } from './ruleset.js'
import { planeLogger } from './plane-logger.js'
import { createUpdateQueue } from './update-queue.js'

export interface DrDataPlaneDeps {
  readonly exec?: Exec
  readonly hasNetAdmin?: () => boolean
  /** Clock for the MAC cache (tests). */
  readonly now?: () => number
}

/** A resolved MAC is trusted this long before it is looked up again. */
const MAC_TTL_MS = 60_000

export async function openDrDataPlane(
  spec: VirtualServiceSpec,
  ctx: Pick<DataPlaneContext, 'logger'>,
  options: Readonly<Record<string, string>>,
  deps: DrDataPlaneDeps = {},
): Promise<DataPlane> {
  const exec = deps.exec ?? execProgram
  const now = deps.now ?? Date.now
  const log = planeLogger(ctx.logger, 'nft-dr', spec.name)
  if (!(deps.hasNetAdmin ?? hasNetAdmin)())
    throw drError('TM_ERR_DR_NO_CAP', `service ${spec.name}`)
  let opts: DrOptions
  try {
    opts = parseDrOptions(options)
  } catch (e) {
    throw drError('TM_ERR_DR_OPTION', spec.name, (e as Error).message)
  }
  const table = `netdev ${drTableName(spec, opts)}`

  const nft = async (script: string): Promise<void> => {
    let r
    try {
      r = await exec('nft', ['-f', '-'], script)
    } catch (e) {
      throw drError('TM_ERR_DR_MISSING', 'nft', (e as Error).message, e)
    }
    if (r.code !== 0) {
      const text = r.stderr.trim()
      if (/Operation not permitted/i.test(text))
        throw drError('TM_ERR_DR_NO_CAP', text)
      throw drError(
        'TM_ERR_DR_APPLY',
        spec.name,
        text.split('\n').slice(0, 3).join(' | '),
      )
    }
  }

  let iface = opts.iface
  let ifaceMac: string | undefined
  let current: DrNode[] = []
  let lastScript = ''
  let lastProblems = ''
  let closed = false
  const macs = new Map<string, { mac: string; dev: string; at: number }>()
  // MACs of this host's interfaces nodes sit behind (node-interfaces any).
  const devMacs = new Map<string, string>()
  const viaOf = async (dev: string): Promise<DrNode['via']> => {
    if (dev === iface) return undefined
    let mac = devMacs.get(dev)
    if (!mac) {
      mac = await linkMac(exec, dev)
      if (!mac)
        throw drError(
          'TM_ERR_DR_APPLY',
          spec.name,
          `cannot read the MAC address of interface ${dev}`,
        )
      devMacs.set(dev, mac)
    }
    return { dev, mac }
  }
  let chain: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn)
    chain = p.catch(() => undefined)
    return p
  }

  // Nodes that cannot be reached by MAC rewrite are left out (the others
  // keep serving) and logged once per change of the problem list.
  const resolveAll = async (
    backends: readonly Backend[],
  ): Promise<DrNode[]> => {
    const out: DrNode[] = []
    const problems: { node: string; code: string; detail: string }[] = []
    for (const b of backends) {
      if (b.port !== spec.port) {
        problems.push({
          node: b.id,
          code: 'TM_ERR_DR_NOT_ON_LINK',
          detail: `node port ${b.port} differs from the VIP port ${spec.port}; direct routing cannot rewrite ports`,
        })
        continue
      }
      const cached = macs.get(b.host)
      if (cached && iface && now() - cached.at < MAC_TTL_MS) {
        const via = await viaOf(cached.dev)
        out.push({
          id: b.id,
          host: b.host,
          port: b.port,
          weight: b.weight,
          mac: cached.mac,
          ...(via ? { via } : {}),
        })
        continue
      }
      const r = await resolveNode(
        exec,
        b.host,
        opts.nodeInterfaces === 'any' ? undefined : iface,
      )
      if (!r.ok) {
        const err =
          r.reason === 'not-on-link'
            ? drError('TM_ERR_DR_NOT_ON_LINK', spec.name, b.host, r.detail)
            : undefined
        problems.push({
          node: b.id,
          code: err ? 'TM_ERR_DR_NOT_ON_LINK' : r.reason,
          detail: err ? err.message : r.detail,
        })
        continue
      }
      iface ??= r.dev
      macs.set(b.host, { mac: r.mac, dev: r.dev, at: now() })
      const via = await viaOf(r.dev)
      out.push({
        id: b.id,
        host: b.host,
        port: b.port,
        weight: b.weight,
        mac: r.mac,
        ...(via ? { via } : {}),
      })
    }
    for (const h of [...macs.keys()])
      if (!backends.some(b => b.host === h)) macs.delete(h)
    const key = JSON.stringify(problems)
    if (key !== lastProblems) {
      lastProblems = key
      for (const p of problems)
        log.error(
          { node: p.node, code: p.code },
          `node left out of direct routing: ${p.detail}`,
        )
    }
    return out
  }

  // news: a membership change (or the first write); weights alone move
  // with every load report and log at debug.
  const apply = async (
    backends: readonly Backend[],
    news = true,
  ): Promise<void> => {
    const nodes = await resolveAll(normalizeBackends(backends))
    if (!iface) {
      log.warn(
        'no node resolved yet, so no interface to hook: nothing programmed (give option interface to hook at start)',
      )
      return
    }
    ifaceMac ??= await linkMac(exec, iface)
    if (!ifaceMac)
      throw drError(
        'TM_ERR_DR_APPLY',
        spec.name,
        `cannot read the MAC address of interface ${iface}`,
      )
    const live = nodes.filter(n => n.weight > 0)
    const maglev = buildMaglevTable(
      live.map(n => ({ id: maglevId(n), weight: n.weight })),
      maglevSize(nodes.length, opts.tableSize),
    )
    const kept = new Set(nodes.map(n => drNames(n).set))
    const gone = current.filter(n => !kept.has(drNames(n).set))
    const script = buildDrRuleset({
      spec,
      opts,
      iface,
      ifaceMac,
      nodes,
      maglev,
      gone,
    })
    if (script === lastScript) return
    await nft(script)
    lastScript = script
    current = nodes
    log[news ? 'info' : 'debug'](
      {
        table,
        iface,
        size: maglev.size,
        nodes: nodes.map(
          n =>
            `${n.host}/${n.weight}@${n.mac}${n.via ? ` via ${n.via.dev}` : ''}`,
        ),
      },
      'direct-routing table programmed',
    )
  }

  await serial(async () => {
    // A leftover from a crashed run is replaced; pinned flows of the old
    // table are lost, but Maglev puts them back on the same nodes.
    await exec('nft', ['-f', '-'], buildDrDeleteTable(spec, opts)).catch(
      () => undefined,
    )
    await apply([])
  })

  const queue = createUpdateQueue({
    weightIntervalMs: opts.weightIntervalMs,
    write: (backends, membership) =>
      serial(async () => {
        if (!closed) await apply(backends, membership)
      }),
  })

  return {
    kind: 'nftables-dr',
    update: backends => (closed ? Promise.resolve() : queue.push(backends)),
    counters: () =>
      serial(async () => {
        const out = new Map<string, BackendCounters>()
        const list = await exec('nft', [
          '-j',
          'list',
          'table',
          ...table.split(' '),
        ])
        const k =
          list.code === 0
            ? parseDrListing(list.stdout)
            : { counters: new Map(), setSizes: new Map() }
        for (const n of current) {
          const names = drNames(n)
          const c = k.counters.get(names.counter)
          const fresh = k.counters.get(names.newCounter)
          out.set(n.id, {
            active: k.setSizes.get(names.set) ?? 0,
            total: fresh?.packets ?? 0,
            bytesIn: c?.bytes ?? 0,
            // Replies go from the node to the client directly.
            bytesOut: 0,
            packets: c?.packets ?? 0,
          })
        }
        return out
      }),
    close: () =>
      serial(async () => {
        if (closed) return
        closed = true
        queue.clear()
        const r = await exec(
          'nft',
          ['-f', '-'],
          buildDrDeleteTable(spec, opts),
        ).catch(() => undefined)
        log.info({ table, ok: r?.code === 0 }, 'direct-routing table removed')
      }),
  }
}

/** The factory traffic-manager loads for `dataplane nftables-dr` services. */
export const createDrDataPlane: DataPlaneFactory = (spec, ctx, options) =>
  openDrDataPlane(spec, ctx, options.extra)
