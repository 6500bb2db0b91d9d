// End to end with the real traffic-manager: two nginx nodes behind one of
// its virtual services, continuous requests through it, ldirectord in
// director mode on its control socket. The test itself stands in for the
// two traffic-clients (LOAD `up` reports every 300 ms, their documented
// protocol) so the nodes are live in the manager's table.

import t, { type Test } from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { request } from 'node:http'
import { join } from 'node:path'
import { formatReport } from '@has/traffic-manager/protocol'
import { binPath, spawnDaemon, type Proc } from '@has/test-support'
import { freePort, makeNginx, type Nginx } from '../helpers/nginx.js'
import { startControlServer } from '@has/daemon-kit'
import { socketDir } from '../helpers/peers.js'

/** One GET on a fresh connection (no keep-alive: each request is new). */
function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/index.html',
        agent: false,
        headers: { Connection: 'close' },
      },
      res => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () =>
          resolve(
            res.statusCode === 200 ? body.trim() : `status ${res.statusCode}`,
          ),
        )
      },
    )
    req.setTimeout(3000, () => req.destroy(new Error('timeout')))
    req.once('error', reject)
    req.end()
  })
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(r => s.bind(0, '127.0.0.1', r))
  const p = s.address().port
  await new Promise<void>(r => s.close(r))
  return p
}

interface Cluster {
  readonly a: Nginx
  readonly b: Nginx
  readonly vport: number
  readonly reportPort: number
  readonly tmCtl: string
  readonly tm: Proc
  readonly dir: string
  readonly sd: string
  /** Nodes the stand-in traffic-clients report for (delete one = paused). */
  readonly reporting: Set<string>
  readonly served: { start: number; body: string }[]
  seen(want: string, after: number): Promise<boolean>
  stopLoad(): Promise<void>
  startLoad(): void
}

async function cluster(t: Test, key?: string): Promise<Cluster> {
  const dir = t.testdir({})
  const sd = socketDir(t)
  const a = await makeNginx(join(dir, 'a'), '127.0.0.21', 'node A')
  const b = await makeNginx(join(dir, 'b'), '127.0.0.22', 'node B')
  t.teardown(() => a.stop())
  t.teardown(() => b.stop())
  await a.start()
  await b.start()

  const reportPort = await freeUdpPort()
  const vport = await freePort()
  const tmConf = join(dir, 'tmd.conf')
  writeFileSync(
    tmConf,
    `${key === undefined ? '' : `key ${key}\n`}traffic1 127.0.0.21
traffic2 127.0.0.22
port ${reportPort}
listen 127.0.0.1
timeout 3000
workers 0
virtual 127.0.0.1:${vport}
    scheduler rr
    dataplane proxy
    node 127.0.0.21:${a.port}
    node 127.0.0.22:${b.port}
    connect-timeout 1s
`,
  )
  const tmCtl = join(sd, 'tm.sock')
  const tm = spawnDaemon('traffic-manager', ['-c', tmConf, '--control', tmCtl])
  t.teardown(() => tm.stop())
  await tm.waitLog(l => l.msg === 'traffic-manager ready')

  // Stand-in traffic-clients: `up` reports for both nodes.
  const udp = createSocket('udp4')
  t.teardown(() => udp.close())
  const epoch = Date.now()
  let seq = 0
  const reporting = new Set(['127.0.0.21', '127.0.0.22'])
  const report = () => {
    for (const node of reporting) {
      udp.send(
        formatReport(
          { node, load: 100, state: 'up', sender: 'tc', epoch, seq: ++seq },
          key,
        ),
        reportPort,
        '127.0.0.1',
      )
    }
  }
  report()
  const timer = setInterval(report, 300)
  t.teardown(() => clearInterval(timer))

  const served: { start: number; body: string }[] = []
  let running = false
  let loop: Promise<void> = Promise.resolve()
  t.teardown(() => void (running = false))
  const seen = async (want: string, after: number) => {
    for (let i = 0; i < 400; i++) {
      if (served.some(s => s.start >= after && s.body === want)) return true
      await new Promise(r => setTimeout(r, 25)) // lets the request loop run
    }
    return false
  }
  return {
    a,
    b,
    vport,
    reportPort,
    tmCtl,
    tm,
    dir,
    sd,
    reporting,
    served,
    seen,
    startLoad() {
      running = true
      // Continuous requests, bounded in count and time.
      loop = (async () => {
        for (let i = 0; running && i < 5000; i++) {
          const start = Date.now()
          const body = await get(vport).catch(
            (e: Error) => `error ${e.message}`,
          )
          served.push({ start, body })
        }
      })()
    },
    async stopLoad() {
      running = false
      await loop
    },
  }
}

t.test(
  'director mode: a stopped nginx gets no new request through the traffic-manager; it returns',
  async t => {
    if (!existsSync(binPath('traffic-manager'))) {
      t.plan(0, 'traffic-manager is not built')
      return
    }
    const {
      a,
      b,
      vport,
      tmCtl,
      tm,
      sd,
      dir,
      served,
      seen,
      startLoad,
      stopLoad,
    } = await cluster(t)

    const cf = join(dir, 'ldirectord.cf')
    writeFileSync(
      cf,
      `checkinterval = 0.5
checktimeout = 2
failurecount = 2
trafficmanagercontrol = ${tmCtl}
virtual = 127.0.0.1:${vport}
    real = 127.0.0.21:${a.port} masq
    real = 127.0.0.22:${b.port} masq
    service = http
    request = "index.html"
    receive = "^node [AB]$"
`,
    )
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      join(sd, 'ld.sock'),
    ])
    t.teardown(() => ld.stop())
    await ld.waitLog(
      l =>
        l.msg === 'weight set' &&
        l.node === '127.0.0.22' &&
        l.weight === 'auto',
    )

    startLoad()
    t.ok(await seen('node A', 0), 'node A serves before the failure')
    t.ok(await seen('node B', 0), 'node B serves before the failure')

    await a.stop()
    const stoppedAt = Date.now()
    const drained = await ld.waitLog(
      l =>
        l.msg === 'weight set' && l.node === '127.0.0.21' && l.weight === '0',
    )
    const drainedAt = Date.parse(drained.time as string)
    const bound = (0.5 * 2 + 2) * 1000
    t.ok(
      drainedAt - stoppedAt <= bound,
      `weight 0 after ${drainedAt - stoppedAt} ms (bound ${bound} ms)`,
    )
    await tm.waitLog(
      l =>
        l.msg === 'weight override' &&
        l.node === '127.0.0.21' &&
        l.weight === '0',
    )
    const afterDrain = () => served.filter(s => s.start > drainedAt)
    for (let i = 0; i < 400 && afterDrain().length < 40; i++)
      await new Promise(r => setTimeout(r, 25))
    const after = afterDrain()
    t.ok(after.length >= 40, `${after.length} requests after the drain`)
    t.same(
      [...new Set(after.map(s => s.body))],
      ['node B'],
      'every new request goes to node B and succeeds',
    )

    await a.start()
    const back = await ld.waitLog(
      l =>
        l.msg === 'weight set' &&
        l.node === '127.0.0.21' &&
        l.weight === 'auto' &&
        Date.parse(l.time as string) > drainedAt,
    )
    t.ok(
      await seen('node A', Date.parse(back.time as string)),
      'node A serves again',
    )
    await stopLoad()
    t.equal(await ld.stop(), 0)
  },
)

t.test(
  'HAS mode: the node drains itself through the traffic-manager and comes back',
  async t => {
    if (!existsSync(binPath('traffic-manager'))) {
      t.plan(0, 'traffic-manager is not built')
      return
    }
    const key = 'e2e-shared-key-0123'
    const {
      a,
      vport,
      reportPort,
      sd,
      dir,
      reporting,
      served,
      seen,
      startLoad,
      stopLoad,
      tm,
    } = await cluster(t, key)
    // Node A's traffic-client control socket: pause stops its reports, as
    // traffic-client's documented `pause` does.
    const tcCtl = join(sd, 'tc.sock')
    let pausedAt = 0
    const tc = await startControlServer({
      address: tcCtl,
      handlers: {
        pause: () => (
          reporting.delete('127.0.0.21'),
          (pausedAt = Date.now()),
          { reporting: false }
        ),
        resume: () => (reporting.add('127.0.0.21'), { reporting: true }),
      },
    })
    t.teardown(() => tc.close())
    writeFileSync(join(dir, 'key'), `${key}\n`, { mode: 0o600 })
    const cf = join(dir, 'ld-has.cf')
    writeFileSync(
      cf,
      `checkinterval = 0.5
checktimeout = 2
failurecount = 2
hasmode = yes
nodeaddress = 127.0.0.21
trafficmanager = 127.0.0.1:${reportPort}
trafficclientcontrol = ${tcCtl}
reportkeyfile = ${join(dir, 'key')}
virtual = 127.0.0.1:${vport}
    real = 127.0.0.21:${a.port} gate
    service = http
    receive = "^node A$"
`,
    )
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      join(sd, 'ld-has.sock'),
    ])
    t.teardown(() => ld.stop())
    await ld.waitLog(l => l.msg === 'real server up')
    startLoad()
    t.ok(await seen('node A', 0), 'node A serves before the failure')
    t.ok(await seen('node B', 0), 'node B serves before the failure')

    await a.stop()
    const stoppedAt = Date.now()
    const changed = await tm.waitLog(
      l =>
        l.msg === 'node state changed' &&
        l.node === '127.0.0.21' &&
        l.state === 'drain',
    )
    const drainedAt = Date.parse(changed.time as string)
    const bound = (0.5 * 2 + 2) * 1000
    t.ok(
      drainedAt - stoppedAt <= bound,
      `drained after ${drainedAt - stoppedAt} ms (bound ${bound} ms)`,
    )
    t.match(changed, { sender: 'ld', load: 0 })
    t.ok(
      pausedAt > 0 && pausedAt <= drainedAt,
      'the traffic-client was paused before the drain',
    )
    const afterDrain = () => served.filter(s => s.start > drainedAt)
    for (let i = 0; i < 400 && afterDrain().length < 40; i++)
      await new Promise(r => setTimeout(r, 25))
    const after = afterDrain()
    t.ok(after.length >= 40, `${after.length} requests after the drain`)
    t.same(
      [...new Set(after.map(s => s.body))],
      ['node B'],
      'every new request goes to node B',
    )

    await a.start()
    const upAgain = await tm.waitLog(
      l =>
        l.msg === 'node state changed' &&
        l.node === '127.0.0.21' &&
        l.state === 'up' &&
        Date.parse(l.time as string) > drainedAt,
    )
    t.ok(
      await seen('node A', Date.parse(upAgain.time as string)),
      'node A serves again',
    )
    t.ok(reporting.has('127.0.0.21'), 'the traffic-client was resumed')
    await stopLoad()
    t.equal(await ld.stop(), 0)
  },
)

t.test(
  'director mode over IPv6: virtual6/real6 as ldirectord writes them reach the traffic-manager',
  async t => {
    if (!existsSync(binPath('traffic-manager'))) {
      t.plan(0, 'traffic-manager is not built')
      return
    }
    const dir = t.testdir({})
    const sd = socketDir(t)
    const a = await makeNginx(join(dir, 'a6'), '::1', 'node A6')
    t.teardown(() => a.stop())
    await a.start()
    const vport = await freePort('::1')
    const reportPort = await freeUdpPort()
    const tmConf = join(dir, 'tmd6.conf')
    writeFileSync(
      tmConf,
      `traffic1 ::1
port ${reportPort}
listen 127.0.0.1
timeout 3000
workers 0
virtual [::1]:${vport}
    scheduler rr
    dataplane proxy
    node [::1]:${a.port}
`,
    )
    const tmCtl = join(sd, 'tm6.sock')
    const tm = spawnDaemon('traffic-manager', [
      '-c',
      tmConf,
      '--control',
      tmCtl,
    ])
    t.teardown(() => tm.stop())
    await tm.waitLog(l => l.msg === 'traffic-manager ready')

    // ldirectord's sample layout: virtual6 bracketed, real6 bracketed.
    const cf = join(dir, 'ld6.cf')
    writeFileSync(
      cf,
      `checkinterval = 0.5
checktimeout = 2
trafficmanagercontrol = ${tmCtl}
virtual6 = [::1]:${vport}
\treal6 = [::1]:${a.port} masq
\tservice = http
\treceive = "^node A6$"
`,
    )
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      join(sd, 'ld6.sock'),
    ])
    t.teardown(() => ld.stop())
    await ld.waitLog(
      l => l.msg === 'weight set' && l.node === '::1' && l.weight === 'auto',
    )
    await a.stop()
    await ld.waitLog(
      l => l.msg === 'weight set' && l.node === '::1' && l.weight === '0',
    )
    const o = await tm.waitLog(
      l => l.msg === 'weight override' && l.node === '::1' && l.weight === '0',
    )
    t.match(
      o,
      { service: `[::1]:${vport}` },
      'the traffic-manager took the IPv6 service and node names',
    )
    t.equal(await ld.stop(), 0)
  },
)
