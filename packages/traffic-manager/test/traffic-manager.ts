// The library in-process: reports over real UDP, reload semantics, status
// formatting. workers 0 keeps the proxy in this process.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { silentLogger } from '@has/daemon-kit'
import { createTrafficManager } from '../src/traffic-manager.js'
import { parseConfig, type TmConfig } from '../src/config.js'
import { formatReport } from '../src/report-protocol.js'
import { formatStatus } from '../src/status-table.js'

const conf = (extra: string[] = [], scheduler = 'wrr'): TmConfig => {
  const { config, issues } = parseConfig(
    ['traffic1 127.0.0.31', 'traffic2 127.0.0.32', 'standby1 127.0.0.33', 'listen 127.0.0.1', 'port 0', 'workers 0', 'timeout 60000',
      'virtual 127.0.0.1:0', `  scheduler ${scheduler}`, '  node 127.0.0.31:1', '  node 127.0.0.32:1', '  node 127.0.0.33:1', ...extra, ''].join('\n'),
    'mem.conf',
  )
  t.same(issues.errors, [])
  return config as TmConfig
}

t.test('reports drive the table; reload keeps state; status renders', async t => {
  const tm = await createTrafficManager({ config: conf(), logger: silentLogger() })
  t.teardown(() => tm.close())
  const udp = createSocket('udp4')
  t.teardown(() => udp.close())
  let seq = 0
  const send = (node: string, load: number, state: 'up' | 'drain' | 'down' = 'up') =>
    new Promise<void>(r => udp.send(formatReport({ node, load, state, sender: 'tc', epoch: 1, seq: ++seq }), tm.reportAddress.port, '127.0.0.1', () => r()))
  const waitFor = async (pred: () => boolean) => {
    for (let i = 0; i < 400 && !pred(); i++) await new Promise(r => setTimeout(r, 10))
    t.ok(pred())
  }
  await send('127.0.0.31', 300)
  await send('127.0.0.32', 100)
  await send('127.0.0.33', 500)
  await waitFor(() => tm.table.accepted === 3)
  let s = await tm.snapshot()
  const svc = () => s.services[0]!
  t.same(svc().nodes.map(n => [n.address, n.weight, n.eligible]), [
    ['127.0.0.31', 256, true],
    ['127.0.0.32', 85, true],
    ['127.0.0.33', 0, false],
  ], 'weights relative to the largest active index; the standby waits')
  await send('127.0.0.32', 0, 'down')
  await waitFor(() => tm.table.get('127.0.0.32')?.status === 'down')
  await new Promise(r => setImmediate(r))
  s = await tm.snapshot()
  t.same(svc().nodes.filter(n => n.eligible).map(n => n.address), ['127.0.0.31', '127.0.0.33'], 'standby fills in for the down node')
  const text = formatStatus(s)
  t.match(text, /TCP\s+127\.0\.0\.1:0\s+wrr \(proxy\)/)
  t.match(text, /-> 127\.0\.0\.33:1\s+up \(standby\)\s+500/)

  // Reload: same service, other scheduler → restarted; table kept.
  await tm.reload(conf([], 'lc'))
  s = await tm.snapshot()
  t.equal(svc().scheduler, 'lc')
  t.equal(tm.table.get('127.0.0.31')?.status, 'up', 'node state survives the reload')
  // A reload naming an unavailable data plane is refused before any change.
  const bad = { ...conf(), services: [{ ...conf().services[0]!, dataplane: 'ebpf' }] }
  await t.rejects(tm.reload(bad), { code: 'TM_ERR_DATAPLANE_UNAVAILABLE' })
  t.equal((await tm.snapshot()).services[0]?.scheduler, 'lc', 'old config still applied')
})
