// `traffic-manager status` as a table in the spirit of `ipvsadm -L -n`:
// one line per virtual service, then one per node beneath it.

import { formatTable } from '@has/daemon-kit/core'
import type { StatusSnapshot } from './traffic-manager.js'

export function formatStatus(s: StatusSnapshot): string {
  let out =
    `traffic-manager: reports on ${s.reports.listen}` +
    ` (accepted ${s.reports.accepted}, dropped ${Object.values(s.reports.dropped).reduce((a, b) => a + b, 0)})` +
    `, timeout ${s.timeoutMs} ms, workers ${s.workers}\n`
  const rows: string[][] = []
  for (const v of s.services) {
    rows.push([
      'TCP',
      v.name,
      `${v.scheduler} (${v.dataplane}${v.persistentMs ? `, persistent ${v.persistentMs / 1000}s` : ''})` +
        (v.failStatic ? ' FAIL-STATIC' : ''),
      '',
      '',
      '',
      '',
      '',
    ])
    for (const n of v.nodes) {
      const host = n.address.includes(':') ? `[${n.address}]` : n.address
      rows.push([
        '',
        `  -> ${host}:${n.port}`,
        n.state +
          (n.role === 'standby' ? ' (standby)' : '') +
          (n.auto ? ' (auto)' : '') +
          (n.kept ? ' (kept)' : ''),
        String(n.load),
        n.weightSource === 'manual' ? `${n.weight}*` : String(n.weight),
        String(n.active),
        String(n.total),
        n.lastReportAgeMs === null
          ? '-'
          : `${(n.lastReportAgeMs / 1000).toFixed(1)}s`,
      ])
    }
  }
  out += formatTable(
    [
      'Prot',
      'LocalAddress:Port -> RemoteAddress:Port',
      'State/Scheduler',
      'Load',
      'Weight',
      'ActiveConn',
      'TotalConn',
      'LastReport',
    ],
    rows,
  )
  const dropped = Object.entries(s.reports.dropped).filter(([, n]) => n > 0)
  if (dropped.length)
    out += `dropped reports: ${dropped.map(([k, n]) => `${k}=${n}`).join(' ')}\n`
  return out
}
