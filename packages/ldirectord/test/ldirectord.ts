// The service with injected checks and clock-free control: status view,
// restartcommand, reload keeping state, metrics.

import t from 'tap'
import { join } from 'node:path'
import { readFileSync, existsSync } from 'node:fs'
import { silentLogger } from '@has/daemon-kit'
import { parseConfig } from '../src/config.js'
import { createLdirectord } from '../src/ldirectord.js'
import type { CheckRunner } from '../src/monitor.js'
import { recorder } from './helpers/peers.js'

t.test('status, metrics, restartcommand and reload', async t => {
  const dir = t.testdir({})
  const marker = join(dir, 'restarted')
  const text = (interval: string) => `checkinterval = ${interval}
restartcommand = "echo $LD_VIRTUAL $LD_REAL_HOST $LD_REAL_PORT >> ${marker}"
trafficmanagercontrol = /nonexistent/tm.sock
virtual = 10.0.0.1:80
    real = 10.0.0.2:8080 gate
    real = 10.0.0.3:8080 gate
`
  const config = parseConfig(text('0.05'), 'x.cf').config!
  let healthy = true
  const events = recorder<string>()
  const run: CheckRunner = async (_v, r) => {
    const ok = r.host === '10.0.0.2' || healthy
    events.push(`${r.host}:${ok}`)
    return {
      kind: 'stub',
      result: ok
        ? { ok: true, reason: 'ok' }
        : {
            ok: false,
            reason: 'stubbed failure',
            code: 'LD_ERR_CHECK_CONNECT',
          },
    }
  }
  const sent = recorder<string>()
  const ld = await createLdirectord({
    config,
    logger: silentLogger(),
    runCheck: run,
    controlSend: async (a, c, args) =>
      void sent.push(`${a} ${c} ${args.join(' ')}`),
  })
  t.teardown(() => ld.close())
  await sent.wait(s => s.endsWith('10.0.0.3 auto'))
  healthy = false
  await sent.wait(s => s.endsWith('10.0.0.3 0'))
  t.match(ld.status(), {
    mode: 'director',
    virtuals: [
      {
        name: '10.0.0.1:80',
        reals: [
          { real: '10.0.0.2:8080', status: 'up', result: 'ok' },
          {
            real: '10.0.0.3:8080',
            status: 'down',
            result: 'fail',
            reason: 'stubbed failure',
          },
        ],
      },
    ],
    actions: {
      mode: 'director',
      trafficmanagercontrol: '/nonexistent/tm.sock',
    },
  })
  // At least the one failure that took it down; on a busy machine the next
  // 50 ms check may already have run too.
  t.ok(
    (ld.status().virtuals[0]?.reals[1]?.failures ?? 0) >= 1,
    'failures counted',
  )
  const metrics = await ld.registry.metrics()
  t.match(metrics, /ld_real_up\{virtual="10.0.0.1:80",real="10.0.0.3:8080"\} 0/)
  t.match(
    metrics,
    /ld_check_duration_seconds_count\{virtual="10.0.0.1:80",real="10.0.0.2:8080",check="stub"\} [1-9]/,
  )
  // restartcommand ran for the failed real, with its environment.
  // The command runs detached; its output file is the only event.
  await new Promise<void>(resolve => {
    const poll = () =>
      existsSync(marker) && readFileSync(marker, 'utf8').includes('\n')
        ? resolve()
        : setTimeout(poll, 20)
    poll()
  })
  t.equal(
    readFileSync(marker, 'utf8').split('\n')[0],
    '10.0.0.1:80 10.0.0.3 8080',
  )

  // Reload: the down real stays down (state carried), new interval applies.
  const n = events.items.length
  await ld.reload(parseConfig(text('0.1'), 'x.cf').config!)
  t.equal(
    ld.status().virtuals[0]?.reals[1]?.status,
    'down',
    'state survives a reload',
  )
  t.match(
    await ld.registry.metrics(),
    /ld_real_up\{virtual="10.0.0.1:80",real="10.0.0.3:8080"\} 0\n/,
    'and so does its gauge',
  )
  healthy = true
  await sent.wait(
    () => sent.items.filter(s => s.endsWith('10.0.0.3 auto')).length >= 2,
  )
  t.ok(events.items.length > n)
})

t.test('HAS mode builds its reporter from the config', async t => {
  const config = parseConfig(
    'hasmode = yes\ntrafficmanager = 127.0.0.1:9\nreportkey = abcdefgh12345678\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  checktype = on\n',
    'x.cf',
  ).config!
  const ld = await createLdirectord({ config, logger: silentLogger() })
  t.match(ld.status(), { mode: 'has', actions: { mode: 'has' } })
  await ld.close()
})

t.test('status shows persistent and netmask as configured', async t => {
  const config = parseConfig(
    'virtual = [2001:db8::1]:80\n  real6 = [2001:db8::2]:80 gate\n  checktype = on\n  persistent = 300\n  netmask = 64\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  checktype = on\n',
    'x.cf',
  ).config!
  const ld = await createLdirectord({
    config,
    logger: silentLogger(),
    controlSend: async () => undefined,
  })
  t.teardown(() => ld.close())
  const [a, b] = ld.status().virtuals
  t.match(a, { name: '[2001:db8::1]:80', persistent: 300_000, netmask: 64 })
  t.equal(b?.persistent, undefined)
  t.notOk(b && 'netmask' in b)
})

t.test(
  "director mode warns when persistent differs from the traffic-manager's",
  async t => {
    const { Writable } = await import('node:stream')
    const { createLogger } = await import('@has/daemon-kit')
    const lines: {
      level: number
      msg: string
      virtual?: string
      persistentMs?: number
      trafficManagerPersistentMs?: number | null
    }[] = []
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n'))
          if (l) lines.push(JSON.parse(l))
        cb()
      },
    })
    const config = parseConfig(
      'trafficmanagercontrol = /nonexistent/tm.sock\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  checktype = on\n  persistent = 600\nvirtual = 10.0.0.1:443\n  real = 10.0.0.2 gate\n  checktype = on\n  persistent = 300\nvirtual = 10.0.0.1:8080\n  real = 10.0.0.2 gate\n  checktype = on\n  persistent = 60\n',
      'x.cf',
    ).config!
    const asked = recorder<string>()
    const ld = await createLdirectord({
      config,
      logger: createLogger({ name: 'ldirectord', destination }),
      runCheck: async () => ({
        kind: 'on',
        result: { ok: true, reason: 'ok' },
      }),
      controlSend: async (_a, cmd) => {
        asked.push(cmd)
        return cmd === 'status'
          ? {
              services: [
                { name: '10.0.0.1:80', persistentMs: 600_000 },
                { name: '10.0.0.1:443', persistentMs: 0 },
              ],
            }
          : {}
      },
    })
    t.teardown(() => ld.close())
    await asked.wait(c => c === 'status')
    for (
      let i = 0;
      i < 100 && lines.filter(l => /persistent/.test(l.msg)).length < 2;
      i++
    )
      await new Promise(r => setImmediate(r))
    const warns = lines.filter(l => l.level === 40 && /persistent/.test(l.msg))
    t.same(
      warns.map(w => [w.virtual, w.persistentMs, w.trafficManagerPersistentMs]),
      [
        ['10.0.0.1:443', 300_000, 0],
        ['10.0.0.1:8080', 60_000, null],
      ],
      'the matching service is quiet; a differing and a missing one are named',
    )
  },
)
