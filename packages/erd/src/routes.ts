// Route planning, pure. Input: the kernel's main table as `ip -j route`
// prints it; output: the `ip -batch` lines that make the table match the
// wanted state (thesis 3.23): the primary's routes copied onto the
// secondary with a worse metric, secondary routes that would compete with
// them removed, and the primary's own routes present only while the
// primary is the active link.

export type Family = 4 | 6

export interface Route {
  readonly family: Family
  /** Prefix in CIDR form; `default` is normalised to 0.0.0.0/0 or ::/0. */
  readonly dst: string
  readonly dev: string
  readonly metric: number
  readonly gateway?: string
  readonly protocol?: string
  readonly scope?: string
  readonly prefsrc?: string
  readonly pref?: string
}

/** Protocol number erd stamps on its copies, so a restart recognises them. */
export const ERD_PROTO = '190'

/** What `ip -j route` prints, the fields erd reads. */
interface IpRouteJson {
  dst?: string
  dev?: string
  gateway?: string
  metric?: number
  protocol?: string
  scope?: string
  prefsrc?: string
  pref?: string
  type?: string
  nexthops?: unknown
}

/**
 * Parses `ip -j [-6] route show table main`. Only unicast single-path
 * routes can be copied; the rest (blackhole, multipath) is returned as
 * `skipped` so the daemon can say so once.
 */
export function parseRoutes(
  json: string,
  family: Family,
): { routes: Route[]; skipped: string[] } {
  const data: unknown = JSON.parse(json === '' ? '[]' : json)
  if (!Array.isArray(data)) throw new TypeError('expected a JSON array')
  const routes: Route[] = []
  const skipped: string[] = []
  for (const raw of data as IpRouteJson[]) {
    if (typeof raw !== 'object' || raw === null || typeof raw.dst !== 'string')
      continue
    if (
      (raw.type && raw.type !== 'unicast') ||
      raw.nexthops ||
      typeof raw.dev !== 'string'
    ) {
      skipped.push(`${raw.type ?? 'multipath'} ${raw.dst}`)
      continue
    }
    routes.push(
      strip({
        family,
        dst: normaliseDst(raw.dst, family),
        dev: raw.dev,
        metric: typeof raw.metric === 'number' ? raw.metric : 0,
        // Type-checked: these end up in `ip -batch` lines.
        gateway: str(raw.gateway),
        protocol: str(raw.protocol),
        scope: str(raw.scope),
        prefsrc: str(raw.prefsrc),
        pref: str(raw.pref),
      }),
    )
  }
  return { routes, skipped }
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : undefined

function strip(r: Record<string, unknown>): Route {
  for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k]
  return r as unknown as Route
}

function normaliseDst(dst: string, family: Family): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0'
  if (dst.includes('/')) return dst
  return `${dst}/${family === 4 ? 32 : 128}`
}

/** Link-local and multicast prefixes belong to each interface: never copied. */
function perInterface(r: Route): boolean {
  return r.family === 6 && /^(fe[89ab][0-9a-f]|ff[0-9a-f]{2}):/i.test(r.dst)
}

/** The primary's routes that erd manages (the thesis's route table). */
export function primaryRoutes(
  routes: readonly Route[],
  primary: string,
): Route[] {
  return routes.filter(
    r => r.dev === primary && !perInterface(r) && r.protocol !== ERD_PROTO,
  )
}

/** The copy of a primary route on the secondary. */
export function copyOf(r: Route, secondary: string, offset: number): Route {
  return strip({
    ...r,
    dev: secondary,
    metric: r.metric + offset,
    protocol: ERD_PROTO,
  })
}

/**
 * After a restart in failover, the primary's routes are gone from the
 * kernel; they are rebuilt from erd's copies (their original protocol is
 * lost, so they come back as `boot`).
 */
export function routesFromCopies(
  routes: readonly Route[],
  primary: string,
  secondary: string,
  offset: number,
): Route[] {
  return routes
    .filter(
      r =>
        r.dev === secondary && r.protocol === ERD_PROTO && r.metric >= offset,
    )
    .map(r =>
      strip({
        ...r,
        dev: primary,
        metric: r.metric - offset,
        protocol: 'boot',
      }),
    )
}

/** Same route in the kernel's eyes (the key `ip route del` needs). */
export function sameRoute(a: Route, b: Route): boolean {
  return (
    a.family === b.family &&
    a.dst === b.dst &&
    a.dev === b.dev &&
    a.metric === b.metric &&
    (a.gateway ?? '') === (b.gateway ?? '')
  )
}

export interface PlanInput {
  readonly current: readonly Route[]
  /** The primary's routes as erd remembers them. */
  readonly saved: readonly Route[]
  readonly primary: string
  readonly secondary: string
  readonly offset: number
  /** primary: its routes present; secondary: removed; null: left alone. */
  readonly active: 'primary' | 'secondary' | null
}

export interface RouteOp {
  readonly op: 'replace' | 'del'
  readonly route: Route
  readonly why: 'copy' | 'conflict' | 'primary'
}

/** The changes that bring `current` to the wanted state, deletions first. */
export function planRoutes(p: PlanInput): RouteOp[] {
  const has = (r: Route): boolean => p.current.some(c => sameRoute(c, r))
  const dels: RouteOp[] = []
  const adds: RouteOp[] = []
  const copies = p.saved.map(r => copyOf(r, p.secondary, p.offset))
  for (const c of p.current) {
    if (c.dev !== p.secondary || copies.some(k => sameRoute(k, c))) continue
    // A secondary route to a primary destination at a better metric than
    // the copy would compete with the primary (same-IP setups get one per
    // address from the kernel): it goes, the copy replaces it.
    const clash = copies.find(
      k => k.family === c.family && k.dst === c.dst && c.metric < k.metric,
    )
    if (clash) dels.push({ op: 'del', route: c, why: 'conflict' })
  }
  for (const k of copies)
    if (!has(k)) adds.push({ op: 'replace', route: k, why: 'copy' })
  if (p.active === 'primary') {
    for (const r of p.saved)
      if (!has(r)) adds.push({ op: 'replace', route: r, why: 'primary' })
  } else if (p.active === 'secondary') {
    for (const r of p.saved)
      if (has(r)) dels.push({ op: 'del', route: r, why: 'primary' })
  }
  return [...dels, ...adds]
}

/** Fast path on failover: delete the saved primary routes without reading. */
export function withdrawPrimary(saved: readonly Route[]): RouteOp[] {
  return saved.map(route => ({ op: 'del', route, why: 'primary' }))
}

/** Fast path on failback: put the saved primary routes back. */
export function restorePrimary(saved: readonly Route[]): RouteOp[] {
  return saved.map(route => ({ op: 'replace', route, why: 'primary' }))
}

/** One `ip -batch` line (family inferred from the prefix). */
export function formatOp(o: RouteOp): string {
  const r = o.route
  const words = ['route', o.op, r.dst]
  if (r.gateway) words.push('via', r.gateway)
  words.push('dev', r.dev)
  if (o.op === 'replace') {
    if (r.protocol) words.push('proto', r.protocol)
    if (r.scope) words.push('scope', r.scope)
    if (r.prefsrc) words.push('src', r.prefsrc)
    if (r.pref && r.family === 6) words.push('pref', r.pref)
  }
  words.push('metric', String(r.metric))
  return words.join(' ')
}

/** Short text for logs and status: `10.0.0.0/24 dev eth0 metric 0`. */
export function describeRoute(r: Route): string {
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} metric ${r.metric}`
}
