// Entry point of a proxy worker process (forked by proxy-cluster.ts). It
// runs the same ProxyService objects as `workers 0`, fed by the primary:
// backend sets in, counters and new affinity entries out.

import { createLogger, isLogLevel } from '@has/daemon-kit/logger'
import { ProxyService } from './proxy-service.js'
import type { FromWorker, ToWorker } from './proxy-ipc.js'
import type { BackendCounters } from './data-plane.js'

const level = process.env.TM_LOG_LEVEL ?? 'info'
const logger = createLogger({
  name: 'traffic-manager',
  level: isLogLevel(level) ? level : 'info',
}).child({ worker: process.env.TM_WORKER_ID ?? String(process.pid) })

const services = new Map<string, ProxyService>()
const draining = new Set<ProxyService>()

function send(m: FromWorker): void {
  if (process.connected) process.send?.(m)
}

process.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'add': {
      const s = new ProxyService(m.spec, logger, {
        onPersist: entry => send({ t: 'persist', name: m.spec.name, entry }),
      })
      s.listen().then(
        address => {
          services.set(m.spec.name, s)
          send({ t: 'reply', id: m.id, address })
        },
        (e: Error) => send({ t: 'reply', id: m.id, error: e.message }),
      )
      break
    }
    case 'reconfigure': {
      const s = services.get(m.spec.name)
      try {
        if (!s) throw new Error(`no service ${m.spec.name}`)
        s.reconfigure(m.spec)
        send({ t: 'reply', id: m.id })
      } catch (e) {
        send({ t: 'reply', id: m.id, error: (e as Error).message })
      }
      break
    }
    case 'update':
      services.get(m.name)?.update(m.backends)
      break
    case 'remove': {
      const s = services.get(m.name)
      services.delete(m.name)
      if (!s) {
        send({ t: 'reply', id: m.id })
        break
      }
      draining.add(s)
      void s.close().then(() => {
        draining.delete(s)
        send({ t: 'reply', id: m.id })
      })
      break
    }
    case 'persist':
      services
        .get(m.name)
        ?.balancer.setPersist(
          m.entry.client,
          m.entry.node,
          m.entry.expiresAt,
          m.replace,
        )
      break
    case 'counters': {
      const data: Record<string, [string, BackendCounters][]> = {}
      for (const [name, s] of services) data[name] = [...s.counters()]
      send({ t: 'counters', id: m.id, data })
      break
    }
    case 'destroy':
      for (const s of services.values()) s.destroyAll()
      for (const s of draining) s.destroyAll()
      break
  }
})

// The primary owns our lifetime: when it goes, so do we.
process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => {})
process.on('SIGINT', () => {})
process.on('SIGHUP', () => {})
send({ t: 'ready' })
