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
    return { kind: 'stub', result: ok ? { ok: true, reason: 'ok' } : { ok: false, reason: 'stubbed failure', code: 'LD_ERR_CHECK_CONNECT' } }
  }
  const sent = recorder<string>()
  const ld = await createLdirectord({
    config,
    logger: silentLogger(),
    runCheck: run,
    controlSend: async (a, c, args) => void sent.push(`${a} ${c} ${args.join(' ')}`),
  })
  t.teardown(() => ld.close())
  await sent.wait(s => s.endsWith('10.0.0.3 auto'))
  healthy = false
  await sent.wait(s => s.endsWith('10.0.0.3 0'))
  t.match(ld.status(), {
    mode: 'director',
    virtuals: [{ name: '10.0.0.1:80', reals: [
      { real: '10.0.0.2:8080', status: 'up', result: 'ok' },
      { real: '10.0.0.3:8080', status: 'down', result: 'fail', reason: 'stubbed failure', failures: 1 },
    ] }],
    actions: { mode: 'director', trafficmanagercontrol: '/nonexistent/tm.sock' },
  })
  const metrics = await ld.registry.metrics()
  t.match(metrics, /ld_real_up\{virtual="10.0.0.1:80",real="10.0.0.3:8080"\} 0/)
  t.match(metrics, /ld_check_duration_seconds_count\{virtual="10.0.0.1:80",real="10.0.0.2:8080",check="stub"\} [1-9]/)
  // restartcommand ran for the failed real, with its environment.
  // The command runs detached; its output file is the only event.
  await new Promise<void>(resolve => {
    const poll = () => (existsSync(marker) && readFileSync(marker, 'utf8').includes('\n') ? resolve() : setTimeout(poll, 20))
    poll()
  })
  t.equal(readFileSync(marker, 'utf8').split('\n')[0], '10.0.0.1:80 10.0.0.3 8080')

  // Reload: the down real stays down (state carried), new interval applies.
  const n = events.items.length
  await ld.reload(parseConfig(text('0.1'), 'x.cf').config!)
  t.equal(ld.status().virtuals[0]?.reals[1]?.status, 'down', 'state survives a reload')
  t.match(await ld.registry.metrics(), /ld_real_up\{virtual="10.0.0.1:80",real="10.0.0.3:8080"\} 0\n/, 'and so does its gauge')
  healthy = true
  await sent.wait(() => sent.items.filter(s => s.endsWith('10.0.0.3 auto')).length >= 2)
  t.ok(events.items.length > n)
})

t.test('HAS mode builds its reporter from the config', async t => {
  const config = parseConfig(
    'hasmode = yes\ntrafficmanager = 127.0.0.1:9\nreportkey = abcdefgh1\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\n  checktype = on\n',
    'x.cf',
  ).config!
  const ld = await createLdirectord({ config, logger: silentLogger() })
  t.match(ld.status(), { mode: 'has', actions: { mode: 'has' } })
  await ld.close()
})
