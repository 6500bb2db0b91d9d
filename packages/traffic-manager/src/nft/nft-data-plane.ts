// The kernel data plane: one nftables table per virtual service, rewritten
// in one `nft -f -` transaction on a membership or weight change (weights
// alone at most once per `weight-interval`: update-queue.ts).
// Established connections keep their translation in conntrack, so updates
// only steer new connections. A table left by a previous instance (kill -9,
// crash, restart) is adopted, never deleted and re-created: it keeps
// forwarding until this instance knows a backend (or `holdMs` passes), then
// one transaction replaces it. close() (service removed by a reload) deletes
// the table; detach() (process stop) keeps it while anything may use it.

import type {
  Backend,
  BackendCounters,
  DataPlane,
  DataPlaneContext,
  DataPlaneFactory,
  VirtualServiceSpec,
} from '../data-plane.js'
import { nftError } from './errors.js'
import { activeByBackend, parseNftCounters } from './kernel-counters.js'
import {
  execProgram,
  forwardingSysctl,
  hasNetAdmin,
  readSysctl,
  type Exec,
} from './kernel-exec.js'
import {
  buildDeleteTable,
  buildRuleset,
  counterNames,
  nftFamily,
  deletedFlows,
  normalizeBackends,
  parseNftOptions,
  serviceFlowArgs,
  SERVICE_COUNTERS,
  unansweredFlowsArgs,
  tableName,
  type NftOptions,
} from './ruleset.js'
import {
  createUpdateQueue,
  DEFAULT_WEIGHT_INTERVAL_MS,
} from './update-queue.js'
import { planeLogger } from './plane-logger.js'

export interface NftDataPlaneDeps {
  readonly exec?: Exec
  /** How long an adopted table is kept without a live backend (default 3 s). */
  readonly holdMs?: number
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
  const log = planeLogger(ctx.logger, 'nft', spec.name)
  if (!(deps.hasNetAdmin ?? hasNetAdmin)()) {
    throw nftError('TM_ERR_NFT_NO_CAP', `service ${spec.name}`)
  }
  let opts: NftOptions
  try {
    opts = parseNftOptions(options)
  } catch (e) {
    throw nftError('TM_ERR_NFT_OPTION', spec.name, (e as Error).message)
  }
  const table = `${nftFamily(spec)} ${tableName(spec, opts)}`
  // Without forwarding the DNATed packets die silently in the kernel: refuse
  // at start rather than run a balancer that drops everything.
  const sysctl = forwardingSysctl(spec.family)
  const forwarding = await readSysctl(exec, sysctl)
  if (forwarding === '0')
    throw nftError('TM_ERR_NFT_FORWARDING', spec.name, sysctl, sysctl)
  if (forwarding === undefined)
    log.warn(
      { sysctl },
      'cannot read the forwarding sysctl; the nodes are reachable only if it is 1',
    )

  const nft = async (script: string): Promise<void> => {
    let r
    try {
      r = await exec('nft', ['-f', '-'], script)
    } catch (e) {
      throw nftError('TM_ERR_NFT_MISSING', 'nft', (e as Error).message, e)
    }
    if (r.code !== 0) {
      const text = r.stderr.trim()
      if (/Operation not permitted/i.test(text))
        throw nftError('TM_ERR_NFT_NO_CAP', text)
      throw nftError(
        'TM_ERR_NFT_APPLY',
        spec.name,
        text.split('\n').slice(0, 3).join(' | '),
      )
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

  // news: a membership change (or the first write); weights alone move
  // with every load report and log at debug.
  const apply = async (
    backends: readonly Backend[],
    news = true,
  ): Promise<void> => {
    const next = normalizeBackends(backends)
    const names = new Set(next.flatMap(b => Object.values(counterNames(b))))
    const stale = [...counters].filter(n => !names.has(n))
    await nft(buildRuleset(spec, next, opts, stale))
    current = next
    counters = names
    log[news ? 'info' : 'debug'](
      { table, backends: next.map(b => `${b.host}:${b.port}/${b.weight}`) },
      'nftables table programmed',
    )
  }

  // A node that left (timed out, reported down, removed from the config)
  // cannot answer the connections it was given: expire the unanswered ones
  // so the clients' retransmissions are scheduled again. A failure costs
  // only that help, never the update.
  const expireUnanswered = async (
    before: readonly Backend[],
    after: readonly Backend[],
  ): Promise<void> => {
    if (opts.expireUnanswered === false) return
    const key = (b: Backend): string => `${b.host}|${b.port}`
    const kept = new Set(after.map(key))
    for (const b of before) {
      if (kept.has(key(b))) continue
      const r = await exec(
        'conntrack',
        unansweredFlowsArgs(spec, opts, b),
      ).catch((e: unknown) => ({
        code: -1,
        stdout: '',
        stderr: (e as Error).message,
      }))
      // conntrack exits 1 when nothing matched: only its summary says so.
      const flows = deletedFlows(r.stderr)
      if (flows === undefined)
        log.warn(
          { table, node: key(b), error: r.stderr.trim().slice(0, 200) },
          'cannot expire the unanswered connections of a removed node',
        )
      else if (flows > 0)
        log.info(
          { table, node: key(b), flows },
          'expired unanswered connections of a removed node; their retransmissions are scheduled again',
        )
    }
  }

  // A table left by the previous instance is adopted as it is: deleting it
  // (or emptying it) would send the VIP's packets to local delivery, which
  // resets them, and without any nat chain the kernel stops translating the
  // established flows too. The first backend set replaces it atomically.
  const left = await exec('nft', [
    '-j',
    'list',
    'table',
    ...table.split(' '),
  ]).catch(() => undefined)
  let holding = left?.code === 0
  let holdTimer: NodeJS.Timeout | undefined
  let wanted: readonly Backend[] = []
  const queue = createUpdateQueue({
    weightIntervalMs: opts.weightIntervalMs ?? DEFAULT_WEIGHT_INTERVAL_MS,
    write: (backends, membership) =>
      serial(async () => {
        if (closed) return
        const before = current
        await apply(backends, membership)
        await expireUnanswered(before, current)
      }),
  })
  if (holding) {
    counters = new Set(
      [...parseNftCounters(left?.stdout ?? '').keys()].filter(
        n => !SERVICE_COUNTERS.includes(n),
      ),
    )
    const holdMs = deps.holdMs ?? DEFAULT_HOLD_MS
    log.info(
      { table, holdMs },
      'adopted the nftables table left by a previous instance; it forwards until the first backend set',
    )
    // Bounded: nodes that have not reported by then are really gone.
    holdTimer = setTimeout(() => {
      if (!holding) return
      holding = false
      log.warn(
        { table, holdMs },
        'no backend within the adoption hold; replacing the adopted table',
      )
      void queue
        .push(wanted)
        .catch((err: unknown) =>
          log.error({ err, table }, 'replacing the adopted table failed'),
        )
    }, holdMs)
    holdTimer.unref()
  } else {
    await serial(() => apply([]))
  }
  const stopHolding = (): void => {
    holding = false
    clearTimeout(holdTimer)
  }

  return {
    kind: 'nftables',
    adopted: holding,
    update: async backends => {
      if (closed) return
      wanted = backends
      if (holding && !backends.some(b => b.weight > 0)) return
      stopHolding()
      await queue.push(backends)
    },
    counters: () =>
      serial(async () => {
        const out = new Map<string, BackendCounters>()
        const list = await exec('nft', [
          '-j',
          'list',
          'table',
          ...table.split(' '),
        ])
        const named =
          list.code === 0 ? parseNftCounters(list.stdout) : new Map()
        const ct = await exec('conntrack', [
          '-L',
          ...serviceFlowArgs(spec, opts),
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
        stopHolding()
        queue.clear()
        const r = await exec(
          'nft',
          ['-f', '-'],
          buildDeleteTable(spec, opts),
        ).catch(() => undefined)
        log.info({ table, ok: r?.code === 0 }, 'nftables table removed')
      }),
    // Process stop (SIGTERM, `systemctl restart`): the next instance adopts
    // the table. It goes only when nothing can use it: the VIP is not here
    // and no flow to it is tracked (on a standby, conn-syncd's synced flows
    // need the nat chains at takeover).
    detach: () =>
      serial(async () => {
        if (closed) return
        closed = true
        stopHolding()
        queue.clear()
        const local = await vipIsLocal(exec, spec.address)
        const ct = await exec('conntrack', [
          '-L',
          ...serviceFlowArgs(spec, opts),
        ]).catch(() => undefined)
        const flows =
          ct?.code === 0
            ? ct.stdout.split('\n').filter(l => l.trim()).length
            : undefined
        if (local || flows === undefined || flows > 0) {
          log.info(
            { table, vipLocal: local, flows: flows ?? 'unknown' },
            'nftables table kept for the next instance',
          )
          return
        }
        const r = await exec(
          'nft',
          ['-f', '-'],
          buildDeleteTable(spec, opts),
        ).catch(() => undefined)
        log.info(
          { table, ok: r?.code === 0 },
          'nftables table removed (VIP not here, no flows)',
        )
      }),
  }
}

const DEFAULT_HOLD_MS = 3000

/** Whether `address` is configured on an interface of exec's namespace. */
async function vipIsLocal(exec: Exec, address: string): Promise<boolean> {
  const r = await exec('ip', ['-o', 'addr', 'show']).catch(() => undefined)
  if (r?.code !== 0) return true // unknown: keep the table
  return r.stdout
    .split('\n')
    .some(l =>
      new RegExp(`\\sinet6? ${address.replace(/[.]/g, '\\.')}/`).test(l),
    )
}

/** The factory traffic-manager loads for `dataplane nftables` services. */
export const createNftDataPlane: DataPlaneFactory = (spec, ctx, options) =>
  openNftDataPlane(
    spec,
    ctx,
    options.extra,
    ctx.holdMs !== undefined ? { holdMs: ctx.holdMs } : {},
  )
