// The kernel data plane: one nftables table per virtual service, rewritten
// in one `nft -f -` transaction on every membership or weight change.
// Established connections keep their translation in conntrack, so updates
// only steer new connections; close() deletes the table (open flows keep
// their conntrack entries until they end or time out).

import type {
  Backend,
  BackendCounters,
  DataPlane,
  DataPlaneContext,
  DataPlaneFactory,
  VirtualServiceSpec,
} from '../data-plane.js'
import { nftErrors } from './errors.js'
import { activeByBackend, parseNftCounters } from './kernel-counters.js'
import { execProgram, forwardingSysctl, hasNetAdmin, readSysctl, type Exec } from './kernel-exec.js'
import {
  buildDeleteTable,
  buildRuleset,
  counterNames,
  nftFamily,
  normalizeBackends,
  parseNftOptions,
  tableName,
  type NftOptions,
} from './ruleset.js'

export interface NftDataPlaneDeps {
  readonly exec?: Exec
  /** Overrides the CAP_NET_ADMIN probe (tests). */
  readonly hasNetAdmin?: () => boolean
}

export async function openNftDataPlane(
  spec: VirtualServiceSpec,
  ctx: Pick<DataPlaneContext, 'logger'>,
  options: Readonly<Record<string, string>>,
  deps: NftDataPlaneDeps = {},
): Promise<DataPlane> {
  const exec = deps.exec ?? execProgram
  const log = ctx.logger.child({ component: 'nft', service: spec.name })
  if (!(deps.hasNetAdmin ?? hasNetAdmin)()) {
    throw nftErrors('TM_ERR_NFT_NO_CAP', `service ${spec.name}`)
  }
  let opts: NftOptions
  try {
    opts = parseNftOptions(options)
  } catch (e) {
    throw nftErrors('TM_ERR_NFT_OPTION', spec.name, (e as Error).message)
  }
  const table = `${nftFamily(spec)} ${tableName(spec, opts)}`
  // Without forwarding the DNATed packets die silently in the kernel: refuse
  // at start rather than run a balancer that drops everything.
  const sysctl = forwardingSysctl(spec.family)
  const forwarding = await readSysctl(exec, sysctl)
  if (forwarding === '0') throw nftErrors('TM_ERR_NFT_FORWARDING', spec.name, sysctl, sysctl)
  if (forwarding === undefined) log.warn({ sysctl }, 'cannot read the forwarding sysctl; the nodes are reachable only if it is 1')

  const nft = async (script: string): Promise<void> => {
    let r
    try {
      r = await exec('nft', ['-f', '-'], script)
    } catch (e) {
      throw nftErrors('TM_ERR_NFT_MISSING', 'nft', (e as Error).message, e)
    }
    if (r.code !== 0) {
      const text = r.stderr.trim()
      if (/Operation not permitted/i.test(text)) throw nftErrors('TM_ERR_NFT_NO_CAP', text)
      throw nftErrors('TM_ERR_NFT_APPLY', spec.name, text.split('\n').slice(0, 3).join(' | '))
    }
  }

  let current: Backend[] = []
  let counters = new Set<string>()
  let closed = false
  // Updates are serialised: each one is a whole-table transaction.
  let chain: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn)
    chain = p.catch(() => undefined)
    return p
  }

  const apply = async (backends: readonly Backend[]): Promise<void> => {
    const next = normalizeBackends(backends)
    const names = new Set(next.flatMap(b => Object.values(counterNames(b))))
    const stale = [...counters].filter(n => !names.has(n))
    await nft(buildRuleset(spec, next, opts, stale))
    current = next
    counters = names
    log.info(
      { table, backends: next.map(b => `${b.host}:${b.port}/${b.weight}`) },
      'nftables table programmed',
    )
  }

  // Start from a clean table: a leftover from a crashed run is replaced.
  await serial(async () => {
    await exec('nft', ['-f', '-'], buildDeleteTable(spec, opts)).catch(() => undefined)
    await apply([])
  })

  return {
    kind: 'nftables',
    update: backends =>
      serial(async () => {
        if (closed) return
        await apply(backends)
      }),
    counters: () =>
      serial(async () => {
        const out = new Map<string, BackendCounters>()
        const list = await exec('nft', ['-j', 'list', 'table', ...table.split(' ')])
        const named = list.code === 0 ? parseNftCounters(list.stdout) : new Map()
        const ct = await exec('conntrack', [
          '-L', '-p', opts.protocol, '--orig-dst', spec.address, '--orig-port-dst', String(spec.port),
        ]).catch(() => ({ code: -1, stdout: '', stderr: '' }))
        const active = activeByBackend(ct.stdout, spec)
        for (const b of current) {
          const n = counterNames(b)
          const conns = named.get(n.conns)
          const toNode = named.get(n.toNode)
          const fromNode = named.get(n.fromNode)
          out.set(b.id, {
            active: active.get(`${b.host}|${b.port}`) ?? 0,
            total: conns?.packets ?? 0,
            bytesIn: toNode?.bytes ?? 0,
            bytesOut: fromNode?.bytes ?? 0,
            packets: (toNode?.packets ?? 0) + (fromNode?.packets ?? 0),
          })
        }
        return out
      }),
    close: () =>
      serial(async () => {
        if (closed) return
        closed = true
        const r = await exec('nft', ['-f', '-'], buildDeleteTable(spec, opts)).catch(() => undefined)
        log.info({ table, ok: r?.code === 0 }, 'nftables table removed')
      }),
  }
}

/** The factory traffic-manager loads for `dataplane nftables` services. */
export const createNftDataPlane: DataPlaneFactory = (spec, ctx, options) =>
  openNftDataPlane(spec, ctx, options)
