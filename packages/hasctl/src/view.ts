// From raw readings to one cluster view (pure). Every daemon's status is
// read defensively: a field a daemon does not have (an older version, a
// new shape) shows as missing, never as a crash.

import { DAEMONS, type DaemonName } from './daemons.js'
import type { Reading } from './collect.js'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {}
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v) ? v : null

export interface DaemonRow {
  daemon: DaemonName | null
  where: string
  address: string
  state: 'running' | 'not running' | 'error'
  version: string | null
  error: string | null
}

export interface VipView {
  where: string
  self: string | null
  peer: string | null
  peerAlive: boolean | null
  active: string | null
  groups: {
    name: string
    home: string | null
    state: string | null
    holder: string | null
  }[]
}

export interface ServiceView {
  where: string
  name: string
  scheduler: string | null
  dataplane: string | null
  nodes: {
    address: string
    port: number | null
    state: string
    weight: number | null
    active: number | null
    total: number | null
    load: number | null
  }[]
}

export interface CheckView {
  where: string
  virtual: string
  real: string
  status: string
  failures: number | null
  reason: string | null
}

export interface NicView {
  where: string
  active: string | null
  pinned: string | null
  links: {
    role: string
    ifname: string | null
    carrier: boolean | null
    phase: string | null
  }[]
}

export interface NfsView {
  where: string
  mounts: {
    mountPoint: string
    active: string | null
    failovers: number | null
    healthy: string[]
  }[]
  syncs: {
    source: string
    target: string
    state: string | null
    lagMs: number | null
    pendingMs: number | null
    consecutiveFailures: number | null
  }[]
}

export interface ConnSyncView {
  where: string
  node: string | null
  localFlows: number | null
  held: number | null
  /** Entries held from peers not yet in the kernel. */
  backlog: number | null
  /** Every peer's table has arrived and is in the kernel. */
  ready: boolean | null
  lost: number | null
  insertFailed: number | null
  peers: {
    name: string
    lastSeenMsAgo: number | null
    entries: number | null
  }[]
}

export interface RaView {
  where: string
  interfaces: {
    name: string
    state: string | null
    prefixes: { prefix: string; deprecated: boolean }[]
  }[]
}

export interface NodeClientView {
  where: string
  node: string | null
  flag: string | null
  load: number | null
}

export interface ClusterView {
  at: string
  daemons: DaemonRow[]
  vip: VipView[]
  services: ServiceView[]
  checks: CheckView[]
  nics: NicView[]
  nfs: NfsView[]
  connSync: ConnSyncView[]
  ra: RaView[]
  clients: NodeClientView[]
  /** One line per thing an operator should look at, most urgent first. */
  problems: string[]
}

export function buildView(
  readings: readonly Reading[],
  at: Date = new Date(),
): ClusterView {
  const v: ClusterView = {
    at: at.toISOString(),
    daemons: [],
    vip: [],
    services: [],
    checks: [],
    nics: [],
    nfs: [],
    connSync: [],
    ra: [],
    clients: [],
    problems: [],
  }
  const order = (d: DaemonName | null): number =>
    d === null ? DAEMONS.length : DAEMONS.indexOf(d)
  const sorted = [...readings].sort(
    (a, b) =>
      order(a.daemon) - order(b.daemon) ||
      (a.where === 'local'
        ? -1
        : b.where === 'local'
          ? 1
          : a.where.localeCompare(b.where)),
  )
  for (const r of sorted) {
    v.daemons.push({
      daemon: r.daemon,
      where: r.where,
      address: r.address,
      state: r.ok
        ? 'running'
        : r.error?.startsWith('not running')
          ? 'not running'
          : 'error',
      version: r.version ?? null,
      error: r.error ?? null,
    })
    if (!r.ok) {
      // A daemon not installed on this node is normal; a remote that does not answer is not.
      if (r.where !== 'local')
        v.problems.push(
          `${r.daemon ?? 'remote'} at ${r.where}: ${r.error ?? 'no answer'}`,
        )
      continue
    }
    const s = obj(r.status)
    switch (r.daemon) {
      case 'heartbeatd':
        addVip(v, r.where, s)
        break
      case 'traffic-manager':
        addServices(v, r.where, s)
        break
      case 'ldirectord':
        addChecks(v, r.where, s)
        break
      case 'erd':
        addNic(v, r.where, s)
        break
      case 'ha-nfs-mount':
        addNfs(v, r.where, s)
        break
      case 'conn-syncd':
        addConnSync(v, r.where, s, r.backlog ?? null)
        break
      case 'radvd-lite':
        v.ra.push({
          where: r.where,
          interfaces: arr(s.interfaces).map(i => ({
            name: str(i.name) ?? '?',
            state: str(i.state),
            prefixes: arr(i.prefixes).map(p => ({
              prefix: str(p.prefix) ?? '?',
              deprecated: p.deprecated === true,
            })),
          })),
        })
        break
      case 'traffic-client': {
        const load = obj(s.load)
        const flag = str(s.flag)
        v.clients.push({
          where: r.where,
          node: str(s.node),
          flag,
          load: num(load.load) ?? num(obj(s.lastSent).load),
        })
        if (flag && flag !== 'report')
          v.problems.push(`traffic-client ${str(s.node) ?? ''}: flag ${flag}`)
        break
      }
      default:
        break
    }
  }
  if (readings.length && !readings.some(r => r.ok))
    v.problems.unshift('no daemon answered')
  return v
}

function addVip(v: ClusterView, where: string, s: Obj): void {
  const groups = arr(s.groups).map(g => ({
    name: str(g.name) ?? '?',
    home: str(g.home),
    state: str(g.state),
    holder: str(g.holder),
  }))
  const view: VipView = {
    where,
    self: str(s.self),
    peer: str(s.peer),
    peerAlive: typeof s.peerAlive === 'boolean' ? s.peerAlive : null,
    active: str(s.active),
    groups,
  }
  v.vip.push(view)
  if (view.peerAlive === false)
    v.problems.push(
      `heartbeatd ${view.self ?? where}: peer ${view.peer ?? '?'} is dead`,
    )
  for (const g of groups) {
    if (g.holder === null)
      v.problems.push(`resource group ${g.name}: held by no master`)
    else if (g.home && g.holder !== g.home)
      v.problems.push(
        `resource group ${g.name}: on ${g.holder}, home ${g.home} (failed over)`,
      )
  }
}

function addServices(v: ClusterView, where: string, s: Obj): void {
  for (const svc of arr(s.services)) {
    const name = str(svc.name) ?? '?'
    const nodes = arr(svc.nodes).map(n => ({
      address: str(n.address) ?? '?',
      port: num(n.port),
      state: str(n.state) ?? 'unknown',
      weight: num(n.weight),
      active: num(n.active),
      total: num(n.total),
      load: num(n.load),
    }))
    v.services.push({
      where,
      name,
      scheduler: str(svc.scheduler),
      dataplane: str(svc.dataplane),
      nodes,
    })
    const out = nodes.filter(n => n.state !== 'up' && n.state !== 'drain')
    if (nodes.length && out.length === nodes.length)
      v.problems.unshift(`service ${name}: all nodes out`)
    else
      for (const n of out)
        v.problems.push(`service ${name}: node ${n.address} ${n.state}`)
  }
}

function addChecks(v: ClusterView, where: string, s: Obj): void {
  for (const vs of arr(s.virtuals)) {
    for (const r of arr(vs.reals)) {
      const c: CheckView = {
        where,
        virtual: str(vs.name) ?? '?',
        real: str(r.real) ?? '?',
        status: str(r.status) ?? 'unknown',
        failures: num(r.failures),
        reason: str(r.reason),
      }
      v.checks.push(c)
      if (c.status === 'down')
        v.problems.push(
          `check ${c.virtual} -> ${c.real} failing${c.reason ? `: ${c.reason}` : ''}`,
        )
    }
  }
}

function addNic(v: ClusterView, where: string, s: Obj): void {
  const links = Object.entries(obj(s.links)).map(([role, l]) => {
    const o = obj(l)
    return {
      role,
      ifname: str(o.ifname),
      carrier: typeof o.carrier === 'boolean' ? o.carrier : null,
      phase: str(o.phase),
    }
  })
  const nic: NicView = {
    where,
    active: str(s.active),
    pinned: str(s.pinned),
    links,
  }
  v.nics.push(nic)
  if (nic.active === null) v.problems.unshift(`erd ${where}: no usable NIC`)
  else if (nic.active !== 'primary')
    v.problems.push(`erd ${where}: traffic on the ${nic.active} NIC`)
}

function addNfs(v: ClusterView, where: string, s: Obj): void {
  const view: NfsView = {
    where,
    mounts: arr(s.mounts).map(m => ({
      mountPoint: str(m.mountPoint) ?? '?',
      active: str(m.active),
      failovers: num(m.failovers),
      healthy: arr(m.servers)
        .filter(x => x.healthy === true)
        .map(x => str(x.name) ?? '?'),
    })),
    syncs: arr(s.syncs).map(x => ({
      source: str(x.source) ?? '?',
      target: str(x.target) ?? '?',
      state: str(x.state),
      lagMs: num(x.lastLagMs),
      pendingMs: num(x.pendingMs),
      consecutiveFailures: num(x.consecutiveFailures),
    })),
  }
  v.nfs.push(view)
  for (const m of view.mounts) {
    if (m.active === null)
      v.problems.unshift(`nfs ${m.mountPoint}: no server mounted`)
    else if ((m.failovers ?? 0) > 0)
      v.problems.push(
        `nfs ${m.mountPoint}: on ${m.active} after ${m.failovers} failover(s)`,
      )
  }
  for (const x of view.syncs) {
    if ((x.consecutiveFailures ?? 0) > 0)
      v.problems.push(
        `sync ${x.source} -> ${x.target}: ${x.consecutiveFailures} failed pass(es) in a row`,
      )
  }
}

function addConnSync(
  v: ClusterView,
  where: string,
  s: Obj,
  backlog: number | null,
): void {
  const view: ConnSyncView = {
    where,
    node: str(s.node),
    localFlows: num(s.localFlows),
    held: num(s.heldEntries),
    backlog: num(s.kernelPending) ?? backlog,
    ready: typeof s.ready === 'boolean' ? s.ready : null,
    lost: num(s.lost),
    insertFailed: num(s.insertFailed),
    peers: arr(s.peers).map(p => ({
      name: str(p.name) ?? '?',
      lastSeenMsAgo: num(p.lastSeenMsAgo),
      entries: num(p.entries),
    })),
  }
  v.connSync.push(view)
  if (view.ready === false)
    v.problems.push(
      `conn-syncd ${view.node ?? where}: not ready (a peer table is missing or not in the kernel yet)`,
    )
  if ((view.insertFailed ?? 0) > 0)
    v.problems.push(
      `conn-syncd ${view.node ?? where}: ${view.insertFailed} kernel inserts failed`,
    )
}
