// The library in-process: reports over real UDP, reload semantics, status
// formatting. workers 0 keeps the proxy in this process.
import { waitFor } from '@has/test-support'
import t from 'tap'
import { createSocket } from 'node:dgram'
import {
  connect,
  createServer as createNetServer,
  type AddressInfo,
} from 'node:net'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { createLogger, silentLogger } from '@has/daemon-kit'
import { createTrafficManager } from '../src/traffic-manager.js'
import { parseConfig, type TmConfig } from '../src/config.js'
import { formatReport } from '../src/report-protocol.js'
import { formatStatus } from '../src/status-table.js'

const conf = (extra: string[] = [], scheduler = 'wrr'): TmConfig => {
  const { config, errors } = parseConfig(
    [
      'traffic1 127.0.0.31',
      'traffic2 127.0.0.32',
      'standby1 127.0.0.33',
      'listen 127.0.0.1',
      'port 0',
      'workers 0',
      'timeout 60000',
      'virtual 127.0.0.1:0',
      `  scheduler ${scheduler}`,
      '  node 127.0.0.31:1',
      '  node 127.0.0.32:1',
      '  node 127.0.0.33:1',
      ...extra,
      '',
    ].join('\n'),
    'mem.conf',
  )
  t.same(errors, [])
  return config as TmConfig
}

t.test(
  'reports drive the table; reload keeps state; status renders',
  async t => {
    const tm = await createTrafficManager({
      config: conf(),
      logger: silentLogger(),
    })
    t.teardown(() => tm.close())
    const udp = createSocket('udp4')
    t.teardown(() => udp.close())
    let seq = 0
    const send = (
      node: string,
      load: number,
      state: 'up' | 'drain' | 'down' = 'up',
    ) =>
      new Promise<void>(r =>
        udp.send(
          formatReport({
            node,
            load,
            state,
            sender: 'tc',
            epoch: 1,
            seq: ++seq,
          }),
          tm.reportAddress.port,
          '127.0.0.1',
          () => r(),
        ),
      )
    const reports = (n: number) =>
      waitFor(() => tm.table.accepted === n, {
        what: `${n} reports accepted`,
      })
    await send('127.0.0.31', 300)
    await send('127.0.0.32', 100)
    await send('127.0.0.33', 500)
    await reports(3)
    let s = await tm.snapshot()
    const svc = () => s.services[0]!
    t.same(
      svc().nodes.map(n => [n.address, n.weight, n.eligible]),
      [
        ['127.0.0.31', 256, true],
        ['127.0.0.32', 85, true],
        ['127.0.0.33', 0, false],
      ],
      'weights relative to the largest active index; the standby waits',
    )
    await send('127.0.0.32', 0, 'down')
    await waitFor(() => tm.table.get('127.0.0.32')?.status === 'down', {
      what: 'node 127.0.0.32 down',
    })
    await new Promise(r => setImmediate(r))
    s = await tm.snapshot()
    t.same(
      svc()
        .nodes.filter(n => n.eligible)
        .map(n => n.address),
      ['127.0.0.31', '127.0.0.33'],
      'standby fills in for the down node',
    )
    const text = formatStatus(s)
    t.match(text, /TCP\s+127\.0\.0\.1:0\s+wrr \(proxy\)/)
    t.match(text, /-> 127\.0\.0\.33:1\s+up \(standby\)\s+500/)

    // Reload: same service, other scheduler → reconfigured in place; table kept.
    await tm.reload(conf([], 'lc'))
    s = await tm.snapshot()
    t.equal(svc().scheduler, 'lc')
    t.equal(
      tm.table.get('127.0.0.31')?.status,
      'up',
      'node state survives the reload',
    )
    // A reload naming an unavailable data plane is refused before any change.
    const bad = {
      ...conf(),
      services: [{ ...conf().services[0]!, dataplane: 'ebpf' }],
    }
    await t.rejects(async () => tm.reload(bad), {
      code: 'TM_ERR_DATAPLANE_UNAVAILABLE',
    })
    t.equal(
      (await tm.snapshot()).services[0]?.scheduler,
      'lc',
      'old config still applied',
    )
  },
)

// A logger whose JSON lines the test reads.
function captureLogger() {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger({
    name: 'traffic-manager',
    level: 'debug',
    destination: { write: (s: string) => void lines.push(JSON.parse(s)) },
  })
  return { logger, lines }
}

const listeningOf = (
  lines: Record<string, unknown>[],
): { host: string; port: number } => {
  const up = lines.find(l => l.msg === 'virtual service up')
  const m = /^(.*):(\d+)$/.exec(String(up?.listening))
  return { host: m?.[1] ?? '', port: Number(m?.[2]) }
}

// Issue 18.6: right after a start, before the first report, connections
// were accepted and reset (0-4 per restart). Now one waits for a backend,
// up to connect-timeout.
t.test(
  'a connection that arrives before any backend is held until one appears',
  async t => {
    const conns = new Set<import('node:net').Socket>()
    const backend = createNetServer(s => {
      conns.add(s)
      s.on('error', () => {})
      s.end('hello from 127.0.0.31\n')
    })
    backend.listen(0, '127.0.0.31')
    await once(backend, 'listening')
    const bport = (backend.address() as AddressInfo).port
    const { config } = parseConfig(
      [
        'traffic1 127.0.0.31',
        'listen 127.0.0.1',
        'port 0',
        'workers 0',
        'timeout 60000',
        'virtual 127.0.0.1:0',
        '  connect-timeout 10m',
        `  node 127.0.0.31:${bport}`,
        '',
      ].join('\n'),
      'mem.conf',
    )
    const { logger, lines } = captureLogger()
    const tm = await createTrafficManager({
      config: config as TmConfig,
      logger,
    })
    const udp = createSocket('udp4')
    try {
      const client = connect(listeningOf(lines))
      let got = ''
      let reset = false
      client.on('data', d => (got += d))
      client.on('error', () => (reset = true))
      const closed = once(client, 'close')
      await once(client, 'connect')
      client.write('early bytes are kept\n')
      t.equal(
        (await tm.snapshot()).services[0]?.nodes[0]?.eligible,
        false,
        'no backend yet',
      )
      udp.send(
        formatReport({
          node: '127.0.0.31',
          load: 10,
          state: 'up',
          sender: 'tc',
          epoch: 1,
          seq: 1,
        }),
        tm.reportAddress.port,
        '127.0.0.1',
      )
      await closed
      t.notOk(reset, 'not reset')
      t.equal(
        got,
        'hello from 127.0.0.31\n',
        'served by the first backend to appear',
      )
    } finally {
      udp.close()
      await tm.close()
      for (const c of conns) c.destroy()
      await new Promise(r => backend.close(() => r(undefined)))
    }
  },
)

t.test(
  'a held connection is closed after connect-timeout when no backend appears',
  async t => {
    const { config } = parseConfig(
      [
        'traffic1 127.0.0.31',
        'listen 127.0.0.1',
        'port 0',
        'workers 0',
        'timeout 60000',
        'virtual 127.0.0.1:0',
        '  connect-timeout 50',
        '  node 127.0.0.31:9',
        '',
      ].join('\n'),
      'mem.conf',
    )
    const { logger, lines } = captureLogger()
    const tm = await createTrafficManager({
      config: config as TmConfig,
      logger,
    })
    const client = connect(listeningOf(lines))
    client.on('error', () => {})
    let got = 0
    client.on('data', d => (got += d.length))
    await once(client, 'close')
    await tm.close()
    t.equal(got, 0, 'closed without data')
    t.ok(
      lines.some(
        l =>
          l.msg ===
          'no backend within connect-timeout; closing the held connection',
      ),
      'logged why',
    )
  },
)

// Issue 19.3: a keyless daemon listening beyond loopback must say so loudly.
t.test(
  'a keyless daemon listening beyond loopback warns at start; on loopback it does not',
  async t => {
    for (const [listen, warns] of [
      ['0.0.0.0', true],
      ['127.0.0.1', false],
    ] as const) {
      const { config } = parseConfig(
        [
          'traffic1 127.0.0.31',
          `listen ${listen}`,
          'port 0',
          'workers 0',
          '',
        ].join('\n'),
        'mem.conf',
      )
      const { logger, lines } = captureLogger()
      const tm = await createTrafficManager({
        config: config as TmConfig,
        logger,
      })
      await tm.close()
      const w = lines.find(
        l => l.level === 40 && String(l.msg).startsWith('no report key'),
      )
      t.equal(
        w !== undefined,
        warns,
        `listen ${listen}: ${warns ? 'warns' : 'quiet'}`,
      )
    }
  },
)

// Issue 18.3 (traffic-manager part): a kernel data plane started while the
// VIP is already local means connections are being reset: say so. The seam
// is the data-plane factory (opts.dataPlanes): the order check is control
// plane logic; the kernel plane itself is tested in test/nft.
t.test(
  'a kernel data plane that starts after its VIP is local warns loudly',
  async t => {
    const fake = async () => ({
      kind: 'nftables' as const,
      update: async () => {},
      counters: async () => new Map(),
      close: async () => {},
    })
    for (const [vip, warns] of [
      ['127.0.0.1', true],
      ['192.0.2.1', false],
    ] as const) {
      const { config } = parseConfig(
        [
          'traffic1 127.0.0.31',
          'listen 127.0.0.1',
          'port 0',
          'workers 0',
          `virtual ${vip}:80`,
          '  dataplane nftables',
          '  node 127.0.0.31',
          '',
        ].join('\n'),
        'mem.conf',
      )
      const { logger, lines } = captureLogger()
      const tm = await createTrafficManager({
        config: config as TmConfig,
        logger,
        dataPlanes: { nftables: fake },
      })
      await tm.close()
      const w = lines.find(
        l => l.level === 40 && /VIP is already local/.test(String(l.msg)),
      )
      t.equal(
        w !== undefined,
        warns,
        `VIP ${vip}: ${warns ? 'warns' : 'quiet'}`,
      )
    }
    // Chaos finding A: a restart adopts the table the killed instance left;
    // the VIP was served throughout, so no warning.
    const adopted = async () => ({ ...(await fake()), adopted: true })
    const { config } = parseConfig(
      [
        'traffic1 127.0.0.31',
        'listen 127.0.0.1',
        'port 0',
        'workers 0',
        'virtual 127.0.0.1:80',
        '  dataplane nftables',
        '  node 127.0.0.31',
        '',
      ].join('\n'),
      'mem.conf',
    )
    const { logger, lines } = captureLogger()
    const tm = await createTrafficManager({
      config: config as TmConfig,
      logger,
      dataPlanes: { nftables: adopted },
    })
    await tm.close()
    t.notOk(
      lines.find(l => /VIP is already local/.test(String(l.msg))),
      'adopted table: no warning',
    )
  },
)

t.test(
  'a stalled process judges silence only after reading the reports queued meanwhile',
  async t => {
    const { logger, lines } = captureLogger()
    const { config, errors } = parseConfig(
      [
        'traffic1 127.0.0.31',
        'listen 127.0.0.1',
        'port 0',
        'workers 0',
        'timeout 1000',
        'virtual 127.0.0.1:0',
        '  node 127.0.0.31:1',
        '',
      ].join('\n'),
      'mem.conf',
    )
    t.same(errors, [])
    const tm = await createTrafficManager({
      config: config as TmConfig,
      logger,
    })
    t.teardown(() => tm.close())
    // The node reports every 30 ms from a thread of its own, which keeps
    // sending while this thread is stalled.
    const reports = Array.from({ length: 200 }, (_, i) =>
      formatReport({
        node: '127.0.0.31',
        load: 100,
        state: 'up',
        sender: 'tc',
        epoch: 1,
        seq: i + 1,
      }),
    )
    const sender = new Worker(
      `const { workerData } = require('node:worker_threads')
       const s = require('node:dgram').createSocket('udp4')
       let i = 0
       const tick = setInterval(() => {
         if (i === workerData.reports.length) return clearInterval(tick), s.close()
         s.send(Buffer.from(workerData.reports[i++]), workerData.port, '127.0.0.1')
       }, 30)`,
      { eval: true, workerData: { reports, port: tm.reportAddress.port } },
    )
    t.teardown(() => sender.terminate())
    await waitFor(() => tm.table.get('127.0.0.31')?.status === 'up', {
      what: 'node 127.0.0.31 up from its reports',
    })
    // Stall three timeouts long (as SIGSTOP or CPU starvation would); the
    // timeout leaves the sender thread 30 missed sends of slack on a busy box.
    const until = Date.now() + 3000
    while (Date.now() < until) {
      /* stalled */
    }
    await waitFor(() => tm.table.accepted >= 90, {
      what: '90 reports accepted (those queued during the stall included)',
    })
    t.equal(tm.table.get('127.0.0.31')?.status, 'up')
    t.same(
      lines.filter(l => l.msg === 'node silent past timeout; removed'),
      [],
      'the node was never expired: its reports were waiting in the socket',
    )
  },
)
