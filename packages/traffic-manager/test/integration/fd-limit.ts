// At the descriptor limit libuv resets new connections inside its accept
// path and tells no one. The proxy counts its own descriptors and says so:
// an error naming LimitNOFILE, while the connections it holds keep being
// served and new ones are served again once some close. The real binary
// under a real limit (prlimit), on both relays.
import t from 'tap'
import { connect, type Socket } from 'node:net'
import { waitFor } from '@has/test-support'
import {
  startBackend,
  Reporter,
  startTm,
  writeConf,
  get,
  until,
} from './helpers/lab.js'

const NODE = '127.0.0.31'

for (const relay of ['handles', 'streams']) {
  t.test(
    `${relay} relay: the limit is logged, held connections live on, service resumes`,
    async t => {
      const backend = await startBackend(NODE)
      t.teardown(() => backend.close())
      const conf = writeConf(
        t.testdir({}),
        [
          `traffic1 ${NODE}`,
          'listen 127.0.0.1',
          'port 0',
          'timeout 60000',
          'workers 0',
          'virtual 127.0.0.1:0',
          '  scheduler rr',
          '  connect-timeout 1s',
          `  node ${NODE}:${backend.port}`,
          '',
        ].join('\n'),
      )
      // 64 descriptors: about 25 are the process's own, so the proxy can
      // hold some 19 connections (two each) and not the 60 asked for.
      const tm = await startTm(conf, [], {
        nofile: 64,
        env: { TM_PROXY_RELAY: relay },
      })
      t.teardown(() => tm.proc.stop())
      const reporter = new Reporter(NODE, tm.reports)
      t.teardown(() => reporter.close())
      reporter.every(200)
      await until(
        tm,
        s => s.services[0]!.nodes[0]!.eligible,
        'the node eligible',
      )
      const vip = tm.vip.get('127.0.0.1:0')!

      const socks: Socket[] = []
      const got = new Map<Socket, string>()
      let reset = 0
      t.teardown(() => socks.forEach(s => s.destroy()))
      for (let i = 0; i < 60; i++) {
        const s = connect(vip.port, vip.host)
        s.on('error', () => {})
        s.setEncoding('utf8')
        s.on('data', (d: string) => got.set(s, (got.get(s) ?? '') + d))
        s.on('close', () => reset++)
        s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n')
        socks.push(s)
      }
      const full = await tm.proc.waitLog(
        l => /descriptor limit reached/.test(String(l.msg)),
        15_000,
      )
      t.match(full, { level: 50, limit: 64 })
      t.ok(
        tm.proc.logs.some(l => /near its descriptor limit/.test(String(l.msg))),
        'warned first',
      )

      // Every connection is either relayed and held at the node, or was
      // reset at the limit.
      await waitFor(() => backend.held.length + reset === 60, {
        what: 'each of the 60 connections held at the node or reset',
        timeoutMs: 10_000,
      })
      const held = backend.held.length
      t.ok(held > 5 && held < 60, `${held} relayed and held, ${reset} reset`)
      // The connections the proxy holds are served.
      for (const reply of backend.held.splice(0)) reply()
      await waitFor(
        () =>
          [...got.values()].filter(b => b.includes(`${NODE}\n`)).length ===
          held,
        {
          what: `the answers of the ${held} held connections`,
          timeoutMs: 10_000,
        },
      )
      for (const s of socks) s.destroy()
      // Descriptors free again (the closes may take a moment to reach
      // the proxy): a new request goes through.
      const body = await waitFor(
        async () => ((await get(vip, '/')) === NODE ? NODE : false),
        {
          what: 'a request served after the held connections closed',
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      )
      t.equal(body, NODE)
      t.equal(
        tm.proc.logs.filter(l => /descriptor limit reached/.test(String(l.msg)))
          .length,
        1,
        'one error line for all of it, not one per connection',
      )
    },
  )
}
