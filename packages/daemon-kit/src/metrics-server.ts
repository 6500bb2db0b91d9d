// Prometheus exposition over HTTP. prom-client does the text format and
// the metric types; this file only serves a registry (plus /status as JSON
// for humans and scripts) on an optional listener. It names prom-client in
// types only, so loading it does not load prom-client (metrics.ts does),
// and node:http is loaded when a listener is asked for: neither is on a
// daemon's way to serving (issue 18.12).

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { kitError } from './errors.js'
import { parseHostPort, formatHostPort } from './units.js'
import { checkListenHost } from './listen-policy.js'
import type { Logger } from './logger.js'

export interface MetricsServerOptions {
  /** `host:port`; port 0 picks a free port (tests). */
  readonly listen: string
  readonly registry: Registry
  readonly status?: () => unknown
  readonly logger?: Logger
  /** Allow a non-loopback address (/metrics and /status are unauthenticated). */
  readonly allowRemote?: boolean
}

export interface MetricsServer {
  readonly address: { host: string; port: number }
  close(): Promise<void>
}

export async function startMetricsServer(
  opts: MetricsServerOptions,
): Promise<MetricsServer> {
  const hp = parseHostPort(opts.listen)
  if (!hp) throw kitError('KIT_ERR_BAD_ADDRESS', opts.listen, 'host:port')
  checkListenHost('metrics', opts.listen, hp.host, opts.allowRemote)
  const { createServer } = await import('node:http')
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        text => {
          res.writeHead(200, { 'content-type': opts.registry.contentType })
          res.end(text)
        },
        (err: unknown) => {
          opts.logger?.error({ err }, 'metrics collection failed')
          res.writeHead(500).end()
        },
      )
    } else if (path === '/status' && opts.status) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(opts.status()) + '\n')
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    } else {
      res.writeHead(404).end()
    }
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', e =>
      reject(kitError('KIT_ERR_LISTEN', formatHostPort(hp), e.message, e)),
    )
    server.listen(hp.port, hp.host, resolve)
  })
  const addr = server.address() as AddressInfo
  opts.logger?.info(
    { listen: `${addr.address}:${addr.port}` },
    'metrics listener up',
  )
  return {
    address: { host: addr.address, port: addr.port },
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
