// One ProxyService (the proxy worker's code) in its own process, for
// bench/proxy-memory.js: argv relay, listen port, node port. Answers each
// IPC message with its resident and proportional memory after a GC.
import { readFileSync } from 'node:fs'
import { ProxyService } from '../../packages/traffic-manager/dist/proxy-service.js'
import { silentLogger } from '../../packages/daemon-kit/dist/index.js'

const [relay, port, nodePort] = process.argv.slice(2)
const s = new ProxyService(
  {
    name: 'mem',
    address: '127.0.0.1',
    port: Number(port),
    scheduler: 'rr',
    persistentMs: 0,
    connectTimeoutMs: 2000,
    idleTimeoutMs: 0,
  },
  silentLogger(),
  { relay },
)
await s.listen()
s.update([{ id: 'a', host: '127.0.0.1', port: Number(nodePort), weight: 1 }])

/** KiB of the field in /proc/self/smaps_rollup (Rss, Pss). */
const kib = field =>
  Number(
    new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync('/proc/self/smaps_rollup', 'utf8'),
    )?.[1] ?? NaN,
  )
process.on('message', () => {
  globalThis.gc?.()
  process.send({
    relay: s.relay,
    open: s.openConnections,
    rss: kib('Rss'),
    pss: kib('Pss'),
  })
})
process.send({ ready: true })
