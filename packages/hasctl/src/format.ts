// The cluster view for humans, in the spirit of crm_mon and ipvsadm -L -n:
// problems first, then one block per concern; blocks with nothing to show
// are left out (pure).

import { formatTable } from '@has/daemon-kit'
import type { ClusterView } from './view.js'

const dash = (v: unknown): string =>
  v === null || v === undefined ? '-' : String(v)
const secs = (ms: number | null): string =>
  ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`
const host = (a: string): string => (a.includes(':') ? `[${a}]` : a)

export function formatView(v: ClusterView): string {
  const blocks: string[] = [`has cluster view at ${v.at}`]
  blocks.push(
    v.problems.length
      ? `Problems (${v.problems.length}):\n${v.problems.map(p => `  * ${p}`).join('\n')}\n`
      : 'Problems: none\n',
  )
  blocks.push(
    'Daemons:\n' +
      formatTable(
        ['DAEMON', 'WHERE', 'STATE', 'VERSION', 'DETAIL'],
        v.daemons.map(d => [
          d.daemon ?? '?',
          d.where,
          d.state,
          dash(d.version),
          d.state === 'error' ? dash(d.error) : d.address,
        ]),
      ),
  )
  if (v.vip.length) {
    blocks.push(
      'VIP owner and peers (heartbeatd):\n' +
        v.vip
          .map(
            h =>
              `  [${h.where}] node ${dash(h.self)}, active ${dash(h.active)}; peer ${dash(h.peer)} ` +
              `${h.peerAlive === null ? '?' : h.peerAlive ? 'alive' : 'dead'}\n`,
          )
          .join('') +
        formatTable(
          ['WHERE', 'GROUP', 'HOME', 'LOCAL STATE', 'HOLDER'],
          v.vip.flatMap(h =>
            h.groups.map(g => [
              h.where,
              g.name,
              dash(g.home),
              dash(g.state),
              g.holder ?? 'none',
            ]),
          ),
        ),
    )
  }
  if (v.services.length) {
    const rows: string[][] = []
    for (const s of v.services) {
      rows.push([
        s.where,
        `TCP ${s.name}`,
        `${dash(s.scheduler)} (${dash(s.dataplane)})`,
        '',
        '',
        '',
        '',
      ])
      for (const n of s.nodes) {
        rows.push([
          '',
          `  -> ${host(n.address)}:${dash(n.port)}`,
          n.state,
          dash(n.weight),
          dash(n.active),
          dash(n.total),
          dash(n.load),
        ])
      }
    }
    blocks.push(
      'Virtual services (traffic-manager):\n' +
        formatTable(
          [
            'WHERE',
            'SERVICE -> NODE',
            'SCHEDULER/STATE',
            'WEIGHT',
            'ACTIVECONN',
            'TOTALCONN',
            'LOAD',
          ],
          rows,
        ),
    )
  }
  if (v.checks.length) {
    blocks.push(
      'Health checks (ldirectord):\n' +
        formatTable(
          ['WHERE', 'VIRTUAL', 'REAL', 'STATUS', 'FAILURES', 'REASON'],
          v.checks.map(c => [
            c.where,
            c.virtual,
            c.real,
            c.status,
            dash(c.failures),
            dash(c.reason),
          ]),
        ),
    )
  }
  if (v.nics.length) {
    blocks.push(
      'NICs (erd):\n' +
        formatTable(
          ['WHERE', 'ACTIVE', 'LINK', 'IFNAME', 'CARRIER', 'PHASE'],
          v.nics.flatMap(n =>
            n.links.map((l, i) => [
              i === 0 ? n.where : '',
              i === 0
                ? `${dash(n.active)}${n.pinned ? ` (pinned ${n.pinned})` : ''}`
                : '',
              l.role,
              dash(l.ifname),
              l.carrier === null ? '-' : l.carrier ? 'up' : 'down',
              dash(l.phase),
            ]),
          ),
        ),
    )
  }
  if (v.nfs.some(n => n.mounts.length)) {
    blocks.push(
      'NFS mounts (ha-nfs-mount):\n' +
        formatTable(
          ['WHERE', 'MOUNT POINT', 'SERVER', 'HEALTHY', 'FAILOVERS'],
          v.nfs.flatMap(n =>
            n.mounts.map(m => [
              n.where,
              m.mountPoint,
              m.active ?? 'none',
              m.healthy.join(',') || 'none',
              dash(m.failovers),
            ]),
          ),
        ),
    )
  }
  if (v.nfs.some(n => n.syncs.length)) {
    blocks.push(
      'Content sync (ha-nfs-mount):\n' +
        formatTable(
          [
            'WHERE',
            'SOURCE',
            'TARGET',
            'STATE',
            'LAST LAG',
            'PENDING',
            'FAILED IN A ROW',
          ],
          v.nfs.flatMap(n =>
            n.syncs.map(s => [
              n.where,
              s.source,
              s.target,
              dash(s.state),
              secs(s.lagMs),
              secs(s.pendingMs),
              dash(s.consecutiveFailures),
            ]),
          ),
        ),
    )
  }
  if (v.connSync.length) {
    blocks.push(
      'Connection sync (conn-syncd):\n' +
        formatTable(
          [
            'WHERE',
            'NODE',
            'READY',
            'LOCAL FLOWS',
            'HELD',
            'BACKLOG',
            'LOST',
            'INSERT FAILED',
            'PEERS (entries, last seen)',
          ],
          v.connSync.map(c => [
            c.where,
            dash(c.node),
            c.ready === null ? '-' : c.ready ? 'yes' : 'no',
            dash(c.localFlows),
            dash(c.held),
            dash(c.backlog),
            dash(c.lost),
            dash(c.insertFailed),
            c.peers
              .map(
                p =>
                  `${p.name} (${dash(p.entries)}, ${secs(p.lastSeenMsAgo)} ago)`,
              )
              .join(' ') || 'none',
          ]),
        ),
    )
  }
  if (v.ra.length) {
    blocks.push(
      'Router advertisements (radvd-lite):\n' +
        formatTable(
          ['WHERE', 'INTERFACE', 'STATE', 'PREFIXES'],
          v.ra.flatMap(r =>
            r.interfaces.map(i => [
              r.where,
              i.name,
              dash(i.state),
              i.prefixes
                .map(p => p.prefix + (p.deprecated ? ' (deprecated)' : ''))
                .join(' ') || 'none',
            ]),
          ),
        ),
    )
  }
  if (v.clients.length) {
    blocks.push(
      'Traffic node (traffic-client):\n' +
        formatTable(
          ['WHERE', 'NODE', 'FLAG', 'LOAD'],
          v.clients.map(c => [
            c.where,
            dash(c.node),
            dash(c.flag),
            dash(c.load),
          ]),
        ),
    )
  }
  return blocks.join('\n')
}
