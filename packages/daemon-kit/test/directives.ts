import t from 'tap'
import { IssueList, ConfigError } from '../src/config-source.js'
import {
  address,
  bool,
  configOrThrow,
  configResult,
  duration,
  hostPort,
  ifname,
  int,
  lookupDirective,
  num,
  oneArg,
  oneOf,
  pattern,
  readOne,
  readValue,
  refine,
  SeenDirectives,
  text,
  valueDirective,
} from '../src/directives.js'

const at = { file: 'x.conf', line: 7 }

t.test('value types parse good values and refuse bad ones', async t => {
  t.equal(int(1, 255).parse('255'), 255)
  t.equal(int(1, 255).parse('256'), undefined)
  t.equal(int(1, 255).parse('1.5'), undefined)
  t.equal(int(1, 255).expect, 'an integer 1..255')
  t.equal(num(0, 1).parse('0.25'), 0.25)
  t.equal(num(0, 1).parse('2'), undefined)
  t.equal(duration(10, 60_000).parse('1.5s'), 1500)
  t.equal(duration(10, 60_000).parse('200'), 200, 'bare ms')
  t.equal(duration(10, 60_000, 's').parse('2'), 2000, 'bare seconds')
  t.equal(duration(10, 60_000).parse('5ms'), undefined)
  t.equal(duration(0, 3_600_000).expect, 'a duration 0ms..1h')
  t.equal(duration(10, 90_000).expect, 'a duration 10ms..90s')
  t.equal(bool.parse('Yes'), true)
  t.equal(bool.parse('off'), false)
  t.equal(bool.parse('maybe'), undefined)
  t.equal(oneOf(['rr', 'wrr', 'wlc']).parse('wrr'), 'wrr')
  t.equal(oneOf(['rr', 'wrr', 'wlc']).parse('WRR'), undefined)
  t.equal(oneOf(['rr', 'wrr', 'wlc']).expect, 'rr, wrr or wlc')
  t.equal(address().parse('::1'), '::1')
  t.equal(address(4).parse('::1'), undefined)
  t.equal(address(6).expect, 'an IPv6 address')
  t.same(hostPort(80).parse('10.0.0.1'), { host: '10.0.0.1', port: 80 })
  t.same(hostPort().parse('[::1]:53'), { host: '::1', port: 53 })
  t.equal(pattern(/^[a-z]+$/, 'a word').parse('a1'), undefined)
  t.equal(text.parse(''), undefined)
  t.equal(ifname.parse('eth0.100'), 'eth0.100')
  t.equal(ifname.parse('a-name-far-too-long'), undefined)
  const even = refine(int(0, 10), n => n % 2 === 0, 'an even integer 0..10')
  t.equal(even.parse('4'), 4)
  t.equal(even.parse('5'), undefined)
})

t.test('readValue and readOne report file:line, name and value', async t => {
  const issues = new IssueList()
  t.equal(
    readValue(issues, at, 'deadtime', duration(10, 60_000), '2m'),
    undefined,
  )
  t.equal(readOne(issues, at, 'port', int(1, 65535), ['80', '81']), undefined)
  t.equal(oneArg(issues, at, 'node', []), undefined)
  t.equal(readOne(issues, at, 'port', int(1, 65535), ['443']), 443)
  t.same(issues.errors, [
    { ...at, message: 'deadtime must be a duration 10ms..1m', value: '2m' },
    { ...at, message: 'port takes exactly one value', value: '80 81' },
    { ...at, message: 'node takes exactly one value', value: '' },
  ])
})

t.test('lookupDirective finds own keys only', async t => {
  const table = { port: int(1, 65535) }
  t.equal(lookupDirective(table, 'port'), table.port)
  t.equal(lookupDirective(table, 'constructor'), undefined)
  t.equal(lookupDirective(table, 'toString'), undefined)
  t.equal(lookupDirective(table, '__proto__'), undefined)
})

t.test('SeenDirectives warns on a repeat, naming the first line', async t => {
  const issues = new IssueList()
  const seen = new SeenDirectives()
  seen.note(issues, { file: 'x', line: 2 }, 'port')
  seen.note(issues, { file: 'x', line: 5 }, 'port')
  t.equal(seen.line('port'), 5)
  t.equal(seen.line('node'), undefined)
  t.same(issues.warnings, [
    {
      file: 'x',
      line: 5,
      message: 'port repeated (line 2); the last one wins',
    },
  ])
  t.same(issues.errors, [])
})

t.test('one result shape: config only without errors', async t => {
  const ok = new IssueList()
  ok.warn(at, 'note')
  const r = configResult(ok, () => ({ port: 80 }))
  t.same(r, {
    config: { port: 80 },
    errors: [],
    warnings: [{ ...at, message: 'note' }],
  })
  t.same(configOrThrow(r), { port: 80 })

  const bad = new IssueList()
  bad.error(at, 'port must be an integer 1..65535', 'x')
  let built = false
  const r2 = configResult(bad, () => {
    built = true
    return {}
  })
  t.equal(built, false, 'nothing is built from a bad file')
  t.equal(r2.config, undefined)
  t.throws(() => configOrThrow(r2), ConfigError)
  t.throws(
    () => configOrThrow(r2),
    /x\.conf:7: port must be an integer 1\.\.65535 \(got "x"\)/,
  )

  // A cross-directive check inside build() can still refuse the config.
  const late = new IssueList()
  const r3 = configResult(late, () => {
    late.error(at, 'secondary must differ from primary')
    return {}
  })
  t.equal(r3.config, undefined)
  t.equal(r3.errors.length, 1)
})

t.test('valueDirective reads one value into the draft or reports', async t => {
  const issues = new IssueList()
  const draft: { port?: number } = {}
  const port = valueDirective<{ port?: number }, number>(
    int(1, 65535),
    (d, v) => {
      d.port = v
    },
  )
  port(draft, ['0'], at, issues, 'port')
  t.equal(draft.port, undefined)
  port(draft, ['8080'], at, issues, 'port')
  t.equal(draft.port, 8080)
  t.same(
    issues.errors.map(e => e.message),
    ['port must be an integer 1..65535'],
  )
})
