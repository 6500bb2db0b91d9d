import t, { type Test } from 'tap'
import { join } from 'node:path'
import { connect, createServer } from 'node:net'
import { once } from 'node:events'
import { createTrafficClient } from '../src/client.js'
import { parseConfig, type TrafficClientConfig } from '../src/config.js'
import { writeProcfsFixture } from '../src/procfs-fixture.js'
import { Receiver } from './helpers/receiver.js'
import { captureLogger, portOf } from '@has/test-support'

const KEY = 'a-shared-secret-of-32-characters'

function config(text: string, file: string): TrafficClientConfig {
  const r = parseConfig(text, file)
  if (!r.config) throw new Error(JSON.stringify(r.errors))
  return r.config as TrafficClientConfig
}

/** A test dir with a procfs fixture at proc/. */
function procDir(t: Test): string {
  const dir = t.testdir({})
  writeProcfsFixture(join(dir, 'proc'), {
    bogomips: 1000,
    cpus: 2,
    memTotalMB: 1024,
    memFreeMB: 512,
    idleShare: 0.5,
  })
  return dir
}

/** A client reporting as `node` to the given IPv4 loopback receivers. */
function loopbackClient(
  t: Test,
  node: string,
  rx: Receiver[],
  cap: ReturnType<typeof captureLogger>,
) {
  const dir = procDir(t)
  const masters = rx.map((r, i) => `master${i + 1} 127.0.0.1:${r.port}\n`)
  const client = createTrafficClient({
    config: config(
      `node ${node}\n${masters.join('')}updates 3600000\nprocfs proc\nkey ${KEY}\n`,
      join(dir, 'tcd.conf'),
    ),
    logger: cap.logger,
    now: () => 1_700_000_000_000,
  })
  t.teardown(() => client.close())
  return client
}

async function setup(t: Test, extra = '') {
  const dir = procDir(t)
  const v4 = await Receiver.open('127.0.0.1', KEY)
  const v6 = await Receiver.open('::1', KEY)
  t.teardown(() => (v4.close(), v6.close()))
  // updates 1h: the timer never fires here; rounds are driven explicitly.
  const text = `node 192.0.2.10\nmaster1 127.0.0.1:${v4.port}\nmaster2 [::1]:${v6.port}\nupdates 3600000\nprocfs proc\nkey ${KEY}\n${extra}`
  const c = config(text, join(dir, 'tcd.conf'))
  const client = createTrafficClient({
    config: c,
    now: () => 1_700_000_000_000,
  })
  t.teardown(() => client.close())
  return { dir, v4, v6, client, c }
}

t.test(
  'start sends one signed report to every master, IPv4 and IPv6',
  async t => {
    const { v4, v6, client } = await setup(t)
    await client.start()
    const a = await v4.next()
    const b = await v6.next()
    for (const r of [a, b]) {
      t.equal(r.macOk, true, 'MAC verifies with the shared key')
      t.match(r.report, {
        node: '192.0.2.10',
        load: 1000,
        state: 'up',
        sender: 'tc',
        epoch: 1_700_000_000_000,
      })
    }
    t.same(
      [a.report.seq, b.report.seq],
      [1, 1],
      'one seq per round, shared by every master',
    )
    t.equal(a.line, b.line, 'every master gets the very same datagram')
    await client.round()
    t.equal(
      (await v4.next()).report.seq,
      2,
      'the next round takes the next seq',
    )
    t.equal((await v6.next()).report.seq, 2)
    const s = client.status()
    t.equal(s.seq, 2)
    t.equal(s.flag, 'report')
    t.equal(s.load?.load, 1000)
    t.match(s.masters, [
      { name: 'master1', sent: 2, errors: 0 },
      { name: 'master2', sent: 2, errors: 0 },
    ])
    t.match(
      await client.registry.metrics(),
      /tc_reports_sent_total\{master="127\.0\.0\.1:\d+"\} 2/,
    )
  },
)

t.test(
  'flag: pause says drain once then nothing, drain reports 0, resume reports load; close says down',
  async t => {
    const { v4, client } = await setup(t)
    await client.start()
    const first = await v4.next()
    t.same(await client.setFlag('pause'), {
      previous: 'report',
      flag: 'paused',
    })
    t.match(
      (await v4.next()).report,
      { load: 0, state: 'drain', seq: first.report.seq + 1 },
      'pausing says drain at once',
    )
    t.same(await client.setFlag('pause'), {
      previous: 'paused',
      flag: 'paused',
    })
    await client.round()
    await client.round()
    t.same(await client.commands.drain!([]), {
      previous: 'paused',
      flag: 'drain',
    })
    // One seq per datagram: the next one is the pause's report + 1, so
    // nothing more went out while paused (not even for the second pause).
    const d = await v4.next()
    t.match(d.report, { load: 0, state: 'drain', seq: first.report.seq + 2 })
    await client.setFlag('resume')
    t.match((await v4.next()).report, {
      load: 1000,
      state: 'up',
      seq: first.report.seq + 3,
    })
    await t.rejects(
      Promise.resolve().then(() => client.commands.pause!(['now'])),
      { code: 'TC_ERR_FLAG_ARGS' },
    )
    await client.close()
    t.match((await v4.next()).report, { load: 0, state: 'down' })
    await client.close()
    t.equal(v4.got.length, 5, 'close is idempotent: one down report')
  },
)

t.test('unsigned without a key; procfs errors skip the round', async t => {
  const dir = t.testdir({})
  const rx = await Receiver.open('127.0.0.1')
  t.teardown(() => rx.close())
  writeProcfsFixture(join(dir, 'p'), {
    bogomips: 100,
    cpus: 1,
    memTotalMB: 100,
    memFreeMB: 50,
    idleShare: 1,
  })
  const c = config(
    `node ::1\nmaster1 127.0.0.1:${rx.port}\nupdates 3600000\nprocfs p\n`,
    join(dir, 't.conf'),
  )
  let broken = false
  const client = createTrafficClient({
    config: c,
    readers: dir => {
      const real = {
        cpuinfo: () => Promise.resolve('processor : 0\nbogomips : 100\n'),
      }
      return {
        where: dir,
        cpuinfo: real.cpuinfo,
        meminfo: () =>
          broken
            ? Promise.reject(new Error('gone'))
            : Promise.resolve('MemTotal: 100 kB\nMemFree: 50 kB\n'),
        stat: () => Promise.resolve('cpu  0 0 0 10\n'),
      }
    },
  })
  t.teardown(() => client.close())
  await client.start()
  const a = await rx.next()
  t.equal(a.macOk, true, 'no mac field without a key')
  t.notMatch(a.line, /mac=/)
  broken = true
  await client.round()
  t.equal(client.status().lastError, 'gone')
  t.match(await client.registry.metrics(), /tc_procfs_errors_total 1/)
  broken = false
  await client.round()
  t.equal((await rx.next()).report.seq, 2, 'the skipped round sent nothing')
  t.equal(client.status().lastError, null)
})

t.test(
  'dual stack: each master gets the report naming the address of its family',
  async t => {
    const { v4, v6, client, c } = await setup(t)
    await client.reload({ ...c, altNode: '2001:db8::10' })
    await client.start()
    const a = await v4.next()
    const b = await v6.next()
    t.equal(a.report.node, '192.0.2.10', 'IPv4 master: the IPv4 address')
    t.equal(b.report.node, '2001:db8::10', 'IPv6 master: the IPv6 address')
    t.ok(a.macOk && b.macOk, 'both signed')
    t.equal(a.report.seq, b.report.seq, 'one seq per round')
    t.same(client.status().nodes, ['192.0.2.10', '2001:db8::10'])
  },
)

t.test(
  'reports leave from the node address, not the one the kernel would pick',
  async t => {
    // Two addresses of one family on the host (a SLAAC address beside a
    // static one, in the chaos harness): unbound, a report to 127.0.0.1
    // leaves from 127.0.0.1 and the managers drop it (TM_ERR_REPORT_SOURCE).
    const rx = await Receiver.open('127.0.0.1', KEY)
    const rx2 = await Receiver.open('127.0.0.1', KEY)
    t.teardown(() => (rx.close(), rx2.close()))
    const cap = captureLogger('traffic-client')
    const client = loopbackClient(t, '127.0.0.2', [rx, rx2], cap)
    await client.start()
    const r = await rx.next()
    t.equal(r.report.node, '127.0.0.2')
    t.equal(r.from, '127.0.0.2', 'sent from the address it names')
    const r2 = await rx2.next()
    t.equal(r2.from, '127.0.0.2')
    t.equal(r2.fromPort, r.fromPort, 'one socket for both masters')
    await client.round()
    t.equal((await rx.next()).fromPort, r.fromPort, 'and the next round')
    t.notOk(
      cap.lines.some(l => l.code === 'TC_ERR_SOURCE'),
      'no warning when the address is local',
    )
  },
)

t.test(
  'a node address not on the host: reports go out anyway, one warning',
  async t => {
    const cap = captureLogger('traffic-client')
    const rx = await Receiver.open('127.0.0.1', KEY)
    t.teardown(() => rx.close())
    // 192.0.2.10 (TEST-NET-1) is on no interface here: the bind fails and
    // nothing is sent to it; the report goes to loopback only.
    const client = loopbackClient(t, '192.0.2.10', [rx], cap)
    await client.start()
    const r = await rx.next()
    t.equal(r.report.node, '192.0.2.10', 'the report names the node')
    t.equal(r.from, '127.0.0.1', 'from the address the kernel picked')
    await client.round()
    await rx.next()
    const warnings = cap.lines.filter(l => l.code === 'TC_ERR_SOURCE')
    t.equal(warnings.length, 1, 'warned once, not per round')
    t.match(warnings[0]?.msg, /192\.0\.2\.10/)
  },
)

t.test(
  'reload: new node and masters apply; a bad procfs is refused and changes nothing',
  async t => {
    const { dir, v4, v6, client, c } = await setup(
      t,
      'agent_port 0\nagent_addr 127.0.0.1\n',
    )
    await client.start()
    await v4.next()
    const port = client.agentAddress!.port
    const ask = () =>
      new Promise<string>(resolve => {
        let got = ''
        connect(port, '127.0.0.1')
          .on('data', d => (got += d.toString()))
          .on('end', () => resolve(got))
      })
    t.equal(await ask(), '50% ready up\n')
    await t.rejects(client.reload({ ...c, procfs: join(dir, 'nowhere') }), {
      code: 'TC_ERR_PROCFS_READ',
    })
    t.equal(client.status().node, '192.0.2.10', 'old config kept')
    await client.reload({
      ...c,
      node: '192.0.2.11',
      masters: c.masters.slice(1),
    })
    await client.round()
    t.match((await v6.until(r => r.report.node === '192.0.2.11')).report, {
      state: 'up',
    })
    t.equal(client.status().masters.length, 1)
    await client.setFlag('drain')
    t.equal(await ask(), '0% drain\n')
    t.equal(
      client.agentAddress!.port,
      port,
      'agent kept when its directives did not change',
    )

    // Moving the agent to a port in use is refused whole; the old one answers.
    const blocker = createServer()
    blocker.listen(0, '127.0.0.1')
    await once(blocker, 'listening')
    t.teardown(() => blocker.close())
    const busy = portOf(blocker)
    const cur = { ...c, node: '192.0.2.11', masters: c.masters.slice(1) }
    await t.rejects(
      client.reload({
        ...cur,
        node: '192.0.2.99',
        agent: { addr: '127.0.0.1', port: busy },
      }),
      { code: 'TC_ERR_AGENT_LISTEN' },
    )
    t.equal(client.status().node, '192.0.2.11')
    t.equal(await ask(), '0% drain\n', 'old agent port back')
  },
)
