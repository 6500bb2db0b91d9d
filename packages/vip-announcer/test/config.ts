import t from 'tap'
import { DEFAULTS, parseConfig } from '../src/config.js'
import { ConfigError, formatIssue, configOrThrow } from '@has/daemon-kit'

const issues = (text: string): string[] => {
  try {
    configOrThrow(parseConfig(text, 'va.conf'))
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(formatIssue)
    throw e
  }
  return []
}

t.test(
  'a full file parses; durations take units, bare numbers are ms',
  async t => {
    const c = configOrThrow(
      parseConfig(
        [
          '# the VIP routes',
          'bird-socket /run/bird/bird.ctl',
          'protocol vip4',
          'protocol vip6',
          'traffic-manager /run/has/tm.sock',
          'service 10.0.0.100:80',
          'service [2001:db8::100]:443',
          'min-nodes 2',
          'check-interval 20',
          'check-timeout 400ms',
          'settle 2s',
          'drain 0',
          'bird-timeout 1s',
          '',
        ].join('\n'),
        'va.conf',
      ),
    )
    t.match(c, {
      birdSocket: '/run/bird/bird.ctl',
      protocols: ['vip4', 'vip6'],
      trafficManager: '/run/has/tm.sock',
      services: ['10.0.0.100:80', '[2001:db8::100]:443'],
      minNodes: 2,
      checkIntervalMs: 20,
      checkTimeoutMs: 400,
      settleMs: 2000,
      drainMs: 0,
      birdTimeoutMs: 1000,
    })
    t.ok(Object.isFrozen(c), 'frozen after validation')
  },
)

t.test('defaults: only a protocol is required', async t => {
  const c = configOrThrow(parseConfig('protocol vip4\n', 'va.conf'))
  t.match(c, { ...DEFAULTS, protocols: ['vip4'], services: [] })
  t.same(issues(''), [
    'va.conf: at least one `protocol <name>` (a BIRD static protocol) is required',
  ])
})

t.test('every bad line is named with file:line and the value', async t => {
  t.same(
    issues(
      [
        'protocol vip4',
        'protocol vip-4',
        'protocol vip4',
        'bird-socket relative.ctl',
        'service 10.0.0.100',
        'check-interval 1ms',
        'settle soon',
        'min-nodes 0',
        'colour blue',
        'drain 1s 2s',
        'drain 2s',
        'drain 3s',
      ].join('\n'),
    ),
    [
      'va.conf:2: protocol must be a BIRD protocol name (letters, digits, _) (got "vip-4")',
      'va.conf:3: protocol listed twice (got "vip4")',
      'va.conf:4: bird-socket must be an absolute socket path (got "relative.ctl")',
      'va.conf:5: service must be <ipv4>:<port> or [<ipv6>]:<port> as traffic-manager names it (got "10.0.0.100")',
      'va.conf:6: check-interval must be a duration in 5ms..10000ms (bare number = ms) (got "1ms")',
      'va.conf:7: settle must be a duration in 0ms..600000ms (bare number = ms) (got "soon")',
      'va.conf:8: min-nodes must be an integer in 1..10000 (got "0")',
      'va.conf:9: unknown directive (got "colour")',
      'va.conf:10: drain takes exactly one value (got "1s 2s")',
      'va.conf:12: drain given twice (first at line 11)',
    ],
  )
})

t.test('the example config is valid', async t => {
  const { loadConfig } = await import('../src/config.js')
  const file = new URL(
    '../../../examples/master-node-bgp/vip-announcer/vip-announcer.conf',
    import.meta.url,
  ).pathname
  const c = await loadConfig(file)
  t.ok(c.protocols.length > 0)
})

t.test("Object's own names are unknown directives, not durations", async t => {
  const base = 'protocol vip4\nservice 10.0.0.1:80\n'
  for (const name of ['constructor', 'toString', '__proto__']) {
    const r = parseConfig(`${base}${name} 5\n`, 'va.conf')
    t.equal(r.config, undefined, `${name} refused`)
    t.match(r.errors, [{ line: 3, message: 'unknown directive', value: name }])
  }
})
