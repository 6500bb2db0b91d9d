import t from 'tap'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import {
  DEFAULTS,
  loadConfig,
  parseConfig,
  restartOnlyChanges,
} from '../src/config.js'

t.test('defaults: erd eth0 eth1 with bonding-like timings', async t => {
  const r = parseConfig('', 'erd.conf')
  t.same(r.errors, [])
  t.same(r.config, DEFAULTS)
  t.equal(r.config?.primary, 'eth0')
  t.equal(r.config?.secondary, 'eth1')
  t.ok(Object.isFrozen(r.config))
})

t.test('every directive parses with units', async t => {
  const text = [
    'primary ens3',
    'secondary ens4   # the backup',
    'poll_interval 50ms',
    'link_events off',
    'updelay 1.5s',
    'downdelay 200',
    'primary_reselect failure',
    'flap_limit 5',
    'flap_window 1m',
    'hold_time 20s',
    'ipv4 on',
    'ipv6 no',
    'metric_offset 1000',
    'announce_count 0',
    'announce_interval 1s',
  ].join('\n')
  const r = parseConfig(text, 'erd.conf')
  t.same(r.errors, [])
  t.match(r.config, {
    primary: 'ens3',
    secondary: 'ens4',
    poll_interval: 50,
    link_events: false,
    updelay: 1500,
    downdelay: 200,
    primary_reselect: 'failure',
    flap_limit: 5,
    flap_window: 60_000,
    hold_time: 20_000,
    ipv4: true,
    ipv6: false,
    metric_offset: 1000,
    announce_count: 0,
    announce_interval: 1000,
  })
})

t.test('errors name file:line and quote the value', async t => {
  const r = parseConfig(
    'updelay soon\nbogus 1\n\nprimary_reselect sometimes\nipv4\npoll_interval 1ms\n',
    'x.conf',
  )
  t.equal(r.config, undefined)
  t.same(
    r.errors.map(e => [e.line, e.value]),
    [
      [1, 'soon'],
      [2, undefined],
      [4, 'sometimes'],
      [5, ''],
      [6, '1ms'],
    ],
  )
  t.match(r.errors[1]?.message, /unknown directive "bogus"/)
  t.match(r.errors[2]?.message, /always, better or failure/)
})

t.test(
  'command line interfaces override the file; same interface refused',
  async t => {
    const r = parseConfig('primary a0\nsecondary a1\n', 'f', {
      primary: 'b0',
      secondary: 'b1',
    })
    t.match(r.config, { primary: 'b0', secondary: 'b1' })
    const bad = parseConfig('', 'f', { primary: 'eth0', secondary: 'eth0' })
    t.match(bad.errors[0]?.message, /differ/)
    const name = parseConfig('', 'f', { primary: 'x/y', secondary: 'eth1' })
    t.match(name.errors[0], { line: 0, value: 'x/y' })
  },
)

t.test('a repeated directive warns; the last one wins', async t => {
  const r = parseConfig('updelay 1s\nupdelay 3s\n', 'f')
  t.equal(r.config?.updelay, 3000)
  t.equal(r.warnings.length, 1)
  t.equal(r.warnings[0]?.line, 2)
})

t.test('loadConfig: optional default file, required named file', async t => {
  const dir = t.testdir({
    'good.conf': 'updelay 3s\n',
    'bad.conf': 'updelay x\n',
  })
  t.equal((await loadConfig(join(dir, 'good.conf'))).config.updelay, 3000)
  t.equal(
    (await loadConfig(join(dir, 'missing.conf'), {}, true)).config.updelay,
    DEFAULTS.updelay,
  )
  t.equal((await loadConfig(undefined)).config.primary, 'eth0')
  await t.rejects(loadConfig(join(dir, 'missing.conf')), {
    code: 'KIT_ERR_CONFIG_UNREADABLE',
  })
  await t.rejects(loadConfig(join(dir, 'bad.conf')), {
    code: 'KIT_ERR_CONFIG_INVALID',
    exitCode: 3,
  })
  writeFileSync(join(dir, 'good.conf'), 'updelay 1s\n')
  t.equal((await loadConfig(join(dir, 'good.conf'))).config.updelay, 1000)
})

t.test('restart-only directives are detected', async t => {
  const a = parseConfig('', 'f').config!
  const b = parseConfig('updelay 9s\nmetric_offset 7\nipv6 off\n', 'f').config!
  t.same(restartOnlyChanges(a, b), ['ipv6', 'metric_offset'])
  t.same(restartOnlyChanges(a, a), [])
})
