// The optional read-only status page (`--status-page [host:]port`), in the
// spirit of HAProxy's stats page: one HTML table per virtual service with
// every node's state, weight, connections and per-node rates, refreshed by
// the browser every few seconds. No script and no external asset (the CSP
// header forbids both), so it works from a text browser or curl too. It has
// no authentication: loopback unless --status-page-allow-remote.

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  formatHostPort,
  isLoopbackHost,
  kitError,
  parseHostPort,
  parseIntRange,
  type HostPort,
  type Logger,
} from '@has/daemon-kit/core'
import type { StatusSnapshot } from './traffic-manager.js'

export interface StatusPageOptions {
  /** `port` (on 127.0.0.1) or `host:port`; port 0 picks one (tests). */
  readonly listen: string
  readonly allowRemote?: boolean
  readonly snapshot: () => Promise<StatusSnapshot>
  /** Browser refresh and rate sampling period, seconds (default 2). */
  readonly refreshS?: number
  readonly logger?: Logger
  readonly now?: () => number
}

export interface StatusPage {
  readonly address: HostPort
  close(): Promise<void>
}

/** `8080` → 127.0.0.1:8080; `host:port` as given; else undefined (pure). */
export function parseStatusPageListen(text: string): HostPort | undefined {
  const port = parseIntRange(text, 0, 65535)
  return port !== undefined ? { host: '127.0.0.1', port } : parseHostPort(text)
}

export interface NodeRates {
  /** New connections per second. */
  readonly connPerS: number
  readonly bytesInPerS: number
  readonly bytesOutPerS: number
}

interface Sample {
  readonly at: number
  readonly counters: ReadonlyMap<
    string,
    { total: number; bytesIn: number; bytesOut: number }
  >
}

const key = (service: string, node: string): string => `${service} ${node}`

/** Per-node rates between the two latest samples (pure apart from state). */
export class RateTracker {
  #prev: Sample | undefined
  #last: Sample | undefined

  add(s: StatusSnapshot, at: number): void {
    const counters = new Map<
      string,
      { total: number; bytesIn: number; bytesOut: number }
    >()
    for (const v of s.services) {
      for (const n of v.nodes)
        counters.set(key(v.name, n.address), {
          total: n.total,
          bytesIn: n.bytesIn,
          bytesOut: n.bytesOut,
        })
    }
    this.#prev = this.#last
    this.#last = { at, counters }
  }

  /** Undefined until two samples exist; a counter that went back (restart) reads 0. */
  rates(service: string, node: string): NodeRates | undefined {
    const a = this.#prev?.counters.get(key(service, node))
    const b = this.#last?.counters.get(key(service, node))
    if (!a || !b || !this.#prev || !this.#last) return undefined
    const dt = (this.#last.at - this.#prev.at) / 1000
    if (dt <= 0) return undefined
    const per = (x: number, y: number): number => Math.max(0, y - x) / dt
    return {
      connPerS: per(a.total, b.total),
      bytesInPerS: per(a.bytesIn, b.bytesIn),
      bytesOutPerS: per(a.bytesOut, b.bytesOut),
    }
  }
}

const esc = (v: unknown): string =>
  String(v).replace(
    /[&<>"']/g,
    c =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[
        c
      ] as string,
  )

const rate = (n: number | undefined): string =>
  n === undefined ? '-' : n < 10 ? n.toFixed(1) : Math.round(n).toString()
const bytes = (n: number | undefined): string => {
  if (n === undefined) return '-'
  if (n < 1024) return `${n.toFixed(0)} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
const age = (ms: number | null): string =>
  ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`

const STYLE = `body{font:13px/1.4 system-ui,sans-serif;margin:1em;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 .3em}h2{font-size:15px;margin:1.2em 0 .3em}
p.meta{color:#555;margin:0 0 .8em}
table{border-collapse:collapse;min-width:60em}
th,td{border:1px solid #bbb;padding:2px 8px;text-align:right;white-space:nowrap}
th{background:#dde3ea}td.l,th.l{text-align:left}
tr.up td{background:#e2f5e2}tr.drain td{background:#fdf3d0}
tr.down td,tr.timeout td,tr.unknown td{background:#f8d8d8}
tr.out td.state{font-weight:bold}`

/** The whole page for one snapshot (pure). */
export function renderStatusPage(
  s: StatusSnapshot,
  rates: (service: string, node: string) => NodeRates | undefined,
  opts: { refreshS: number; at: Date; version?: string },
): string {
  const dropped = Object.values(s.reports.dropped).reduce((a, b) => a + b, 0)
  const services = s.services
    .map(v => {
      const rows = v.nodes
        .map(n => {
          const r = rates(v.name, n.address)
          const host = n.address.includes(':') ? `[${n.address}]` : n.address
          const out = !n.eligible
          return (
            `<tr class="${esc(n.state)}${out ? ' out' : ''}" data-node="${esc(n.address)}">` +
            `<td class="l">${esc(host)}:${n.port}</td>` +
            `<td class="l state">${esc(n.state)}${n.role === 'standby' ? ' (standby)' : ''}${n.kept ? ', kept' : ''}${out ? ', out' : ''}</td>` +
            `<td>${n.load}</td>` +
            `<td>${n.weight}${n.weightSource === 'manual' ? '*' : ''}</td>` +
            `<td>${n.active}</td><td>${n.total}</td>` +
            `<td class="rate">${rate(r?.connPerS)}</td>` +
            `<td>${bytes(r?.bytesInPerS)}/s</td><td>${bytes(r?.bytesOutPerS)}/s</td>` +
            `<td>${age(n.lastReportAgeMs)}</td></tr>`
          )
        })
        .join('\n')
      const eligible = v.nodes.filter(n => n.eligible).length
      return (
        `<h2>${esc(v.name)} <small>${esc(v.scheduler)}, ${esc(v.dataplane)}` +
        `${v.running ? '' : ', not running'}${v.failStatic ? ', FAIL-STATIC: every serving node silent, kept' : ''}; ${eligible}/${v.nodes.length} nodes in</small></h2>\n` +
        `<table data-service="${esc(v.name)}"><thead><tr><th class="l">Node</th><th class="l">State</th>` +
        `<th>Load</th><th>Weight</th><th>Active conn</th><th>Total conn</th><th>Conn/s</th>` +
        `<th>In</th><th>Out</th><th>Last report</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`
      )
    })
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${opts.refreshS}">
<meta name="viewport" content="width=device-width">
<title>traffic-manager status</title>
<style>${STYLE}</style></head>
<body>
<h1>traffic-manager${opts.version ? ` ${esc(opts.version)}` : ''}</h1>
<p class="meta">${esc(opts.at.toISOString())}; reports on ${esc(s.reports.listen)}: ${s.reports.accepted} accepted, ${dropped} dropped;
node timeout ${s.timeoutMs} ms; ${s.workers} proxy workers; refreshes every ${opts.refreshS} s; rates over the last ${opts.refreshS} s.</p>
${services || '<p>No virtual service configured.</p>'}
</body></html>
`
}

/** Starts the page's own HTTP listener and the rate sampler. */
export async function startStatusPage(
  opts: StatusPageOptions,
): Promise<StatusPage> {
  const hp = parseStatusPageListen(opts.listen)
  if (!hp)
    throw kitError('KIT_ERR_BAD_ADDRESS', opts.listen, 'port or host:port')
  if (!isLoopbackHost(hp.host) && !opts.allowRemote) {
    throw kitError(
      'KIT_ERR_LISTEN_REMOTE',
      'status page',
      formatHostPort(hp),
      'status-page',
    )
  }
  const refreshS = opts.refreshS ?? 2
  const now = opts.now ?? Date.now
  const tracker = new RateTracker()
  let latest: StatusSnapshot | undefined
  const sample = async (): Promise<void> => {
    try {
      latest = await opts.snapshot()
      tracker.add(latest, now())
    } catch (err) {
      opts.logger?.warn({ err }, 'status page: snapshot failed')
    }
  }
  await sample()
  const timer = setInterval(() => void sample(), refreshS * 1000)
  timer.unref()

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path !== '/' || !latest) {
      res.writeHead(path === '/' ? 503 : 404).end()
      return
    }
    const body = renderStatusPage(latest, (s, n) => tracker.rates(s, n), {
      refreshS,
      at: new Date(now()),
    })
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // Nothing from elsewhere, no script: only the inline style.
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', e =>
      reject(kitError('KIT_ERR_LISTEN', formatHostPort(hp), e.message, e)),
    )
    server.listen(hp.port, hp.host, resolve)
  }).catch(e => {
    clearInterval(timer)
    throw e
  })
  const a = server.address() as AddressInfo
  const address = { host: a.address, port: a.port }
  opts.logger?.info({ listen: formatHostPort(address) }, 'status page up')
  return {
    address,
    close: () =>
      new Promise<void>(resolve => {
        clearInterval(timer)
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
