import t from 'tap'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  parseConfig,
  loadConfig,
  parseMaster,
  nodeFor,
  DEFAULTS,
} from '../src/config.js'

const GOOD = `# TC Configuration File (thesis 3.22.5.1)
master1   192.168.1.1
master2   fd00::1
master10  [::1]:7100
port      7000
updates   500
ErrorLog  /var/log/has/tcd.err
RAM       256
node      192.168.1.100
formula   thesis
`

t.test('the thesis file plus our directives parses', async t => {
  const r = parseConfig(GOOD, '/etc/has/tcd.conf')
  t.same(r.errors, [])
  const c = r.config!
  t.same(
    c.masters.map(m => [m.name, m.host, m.port, m.family]),
    [
      ['master1', '192.168.1.1', 7000, 4],
      ['master2', 'fd00::1', 7000, 6],
      ['master10', '::1', 7100, 6],
    ],
    'ordered by N, port defaults to `port`',
  )
  t.equal(c.updatesMs, 500)
  t.equal(c.ramMB, 256)
  t.equal(c.errorLog, '/var/log/has/tcd.err')
  t.equal(c.formula, 'thesis')
  t.equal(c.node, '192.168.1.100')
  t.equal(c.agent, undefined)
})

t.test('defaults', async t => {
  const c = parseConfig('master1 127.0.0.1\nnode 127.0.0.2\n', 'x.conf').config!
  t.equal(c.port, DEFAULTS.port)
  t.equal(c.port, 7070, "traffic-manager's default port")
  t.equal(c.updatesMs, DEFAULTS.updates)
  t.equal(c.formula, 'live')
  t.equal(c.capacity, 'auto')
  t.equal(c.scale, 1)
  t.equal(c.memHeadroom, 0.2)
  t.equal(c.procfs, '/proc')
  t.equal(c.key, undefined)
})

t.test(
  'directive names are case-insensitive; units; relative paths',
  async t => {
    const c = parseConfig(
      'MASTER1 127.0.0.1\nerrorlog log/err\nram 128\nNode ::1\nupdates 2s\nprocfs fx\nagent_port 5555\nagent_addr ::1\ncapacity 1000\nscale 2.5\nmem_headroom 10%\n',
      '/etc/has/tcd.conf',
    ).config!
    t.equal(c.errorLog, '/etc/has/log/err')
    t.equal(c.procfs, '/etc/has/fx')
    t.equal(c.updatesMs, 2000)
    t.same(c.agent, { addr: '::1', port: 5555 })
    t.equal(c.capacity, 1000)
    t.equal(c.scale, 2.5)
    t.equal(c.memHeadroom, 0.1)
  },
)

const BAD: [string, string, RegExp, string | undefined][] = [
  [
    'master1 10.0.0',
    'master1 10.0.0\n',
    /master1 must be an IPv4 or IPv6 address/,
    '10.0.0',
  ],
  ['master hostname', 'master1 db.example\n', /master1 must be/, 'db.example'],
  ['master0', 'master0 127.0.0.1\n', /master number must be 1..999/, 'master0'],
  [
    'unknown',
    'masters 127.0.0.1\n',
    /unknown directive "masters"/,
    'masters 127.0.0.1',
  ],
  ['two values', 'port 1 2\n', /port takes exactly one value/, 'port 1 2'],
  ['port', 'port 70000\n', /port must be 1..65535/, '70000'],
  ['updates small', 'updates 5\n', /updates must be 10..3600000 ms/, '5'],
  ['updates junk', 'updates often\n', /updates must be/, 'often'],
  ['RAM', 'RAM 1.5\n', /RAM must be a whole number of MB/, '1.5'],
  ['node', 'node web1\n', /node must be an IPv4 or IPv6 address/, 'web1'],
  [
    'node, second address bad',
    'node 10.0.0.5 web1\n',
    /node must be an IPv4 or IPv6 address/,
    'web1',
  ],
  [
    'node, two IPv4',
    'node 10.0.0.5 10.0.0.6\n',
    /node takes at most one address per family/,
    '10.0.0.5 10.0.0.6',
  ],
  [
    'node, three addresses',
    'node 10.0.0.5 fd00::5 10.0.0.6\n',
    /node takes one address, or one IPv4 and one IPv6 address/,
    'node 10.0.0.5 fd00::5 10.0.0.6',
  ],
  [
    'master, two IPv6',
    'master1 fd00::1 [fd00::2]:7070\n',
    /master1 takes at most one address per family/,
    'fd00::1 [fd00::2]:7070',
  ],
  [
    'master, second address bad',
    'master1 10.0.0.1 db.example\n',
    /master1 must be an IPv4 or IPv6 address/,
    'db.example',
  ],
  ['formula', 'formula fast\n', /formula must be live or thesis/, 'fast'],
  [
    'capacity',
    'capacity -3\n',
    /capacity must be auto or a positive number/,
    '-3',
  ],
  ['scale', 'scale 0\n', /scale must be a number > 0/, '0'],
  [
    'headroom',
    'mem_headroom 120\n',
    /mem_headroom must be a percentage/,
    '120',
  ],
  ['agent_port', 'agent_port x\n', /agent_port must be 0..65535/, 'x'],
  [
    'agent_addr',
    'agent_port 1\nagent_addr localhost\n',
    /agent_addr must be an IP/,
    'localhost',
  ],
  ['short key', 'key short\n', /key must be at least 16 characters/, '*****'],
  [
    'twice',
    'port 1\nport 2\n',
    /port given twice \(first at t\.conf:\d\)/,
    '2',
  ],
  [
    'master twice',
    'master1 127.0.0.1\nmaster1 127.0.0.3\n',
    /master1 given twice/,
    '127.0.0.3',
  ],
]

for (const [name, body, msg, value] of BAD) {
  t.test(`error: ${name}`, async t => {
    // Prefix a valid base so only the line under test is wrong.
    const base = body.startsWith('node')
      ? '#\nmaster9 127.0.0.1\n'
      : 'node 127.0.0.2\nmaster9 127.0.0.1\n'
    const r = parseConfig(base + body, 't.conf')
    t.equal(r.config, undefined)
    const e = r.errors.find(i => msg.test(i.message))
    t.ok(e, `an error matching ${msg}: ${JSON.stringify(r.errors)}`)
    t.equal(e?.file, 't.conf')
    t.ok((e?.line ?? 0) > 2, 'names the line')
    t.equal(e?.value, value, 'quotes the value')
  })
}

t.test('file-level errors', async t => {
  const r = parseConfig('port 7000\nformula thesis\n', 'e.conf')
  t.match(r.errors, [
    { file: 'e.conf', line: 0, message: /node <address> is required/ },
    { file: 'e.conf', line: 0, message: /at least one masterN/ },
    {
      file: 'e.conf',
      line: 2,
      message: /formula thesis needs RAM/,
      value: 'thesis',
    },
  ])
  const both = parseConfig(
    'node 127.0.0.1\nmaster1 127.0.0.1\nkey 0123456789abcdef\nkeyfile k\n',
    'k.conf',
  )
  t.match(both.errors, [{ line: 4, message: /give key or keyfile, not both/ }])
})

t.test('warnings do not refuse the file', async t => {
  const r = parseConfig(
    'node 127.0.0.1\nmaster1 127.0.0.1\nmaster2 127.0.0.1:7070\nagent_addr ::1\n',
    'w.conf',
  )
  t.ok(r.config)
  t.match(
    [...r.warnings].sort((a, b) => a.line - b.line),
    [
      { line: 3, message: /same master as line 2/ },
      { line: 4, message: /agent_addr without agent_port/ },
    ],
  )
})

t.test(
  'dual stack: one node and master line each, one address per family',
  async t => {
    const c = parseConfig(
      'node 10.0.0.21 2001:db8:1::21\nmaster1 10.0.0.11 [2001:db8:1::11]:7071\nmaster2 10.0.0.12\n',
      't.conf',
    ).config!
    t.equal(c.node, '10.0.0.21')
    t.equal(c.altNode, '2001:db8:1::21')
    t.same(
      c.masters.map(m => [m.name, m.host, m.port, m.family]),
      [
        ['master1', '10.0.0.11', 7070, 4],
        ['master1', '2001:db8:1::11', 7071, 6],
        ['master2', '10.0.0.12', 7070, 4],
      ],
      'a master line with two addresses is two destinations, in line order',
    )
    t.equal(nodeFor(c, { family: 4 }), '10.0.0.21')
    t.equal(nodeFor(c, { family: 6 }), '2001:db8:1::21')
    const single = parseConfig(
      'node 10.0.0.21\nmaster1 fd00::1\n',
      't.conf',
    ).config!
    t.equal(single.altNode, undefined)
    t.equal(
      nodeFor(single, { family: 6 }),
      '10.0.0.21',
      'a single-stack node names its one address to every master',
    )
  },
)

t.test('parseMaster', async t => {
  t.same(parseMaster('m', '10.0.0.1:99'), {
    name: 'm',
    host: '10.0.0.1',
    port: 99,
    family: 4,
  })
  t.equal(parseMaster('m', '[10.0.0.1]:99'), undefined)
  t.equal(
    parseMaster('m', 'fd00::1:99')?.port,
    0,
    'bare IPv6 is an address, not address:port',
  )
  t.equal(parseMaster('m', '[::1]:0'), undefined)
})

t.test(
  'loadConfig: key file must be private; errors name the keyfile line',
  async t => {
    const dir = t.testdir({
      'tcd.conf': 'node 127.0.0.1\nmaster1 127.0.0.1\nkeyfile tc.key\n',
      'alias.conf': 'node 127.0.0.1\nmaster1 127.0.0.1\nkey-file tc.key\n',
      'tc.key': '0123456789abcdef0123\n',
      'short.conf': 'node 127.0.0.1\nmaster1 127.0.0.1\nkeyfile short.key\n',
      'short.key': 'abc\n',
      'missing.conf': 'node 127.0.0.1\nmaster1 127.0.0.1\n\nkeyfile nope.key\n',
    })
    chmodSync(join(dir, 'tc.key'), 0o644)
    await t.rejects(loadConfig(join(dir, 'tcd.conf')), {
      code: 'KIT_ERR_CONFIG_INVALID',
      issues: [
        {
          file: join(dir, 'tcd.conf'),
          line: 3,
          message: /readable by group or others \(mode 644\)/,
          value: join(dir, 'tc.key'),
        },
      ],
    })
    chmodSync(join(dir, 'tc.key'), 0o600)
    const c = await loadConfig(join(dir, 'tcd.conf'))
    t.equal(c.key, '0123456789abcdef0123')
    t.equal(
      (await loadConfig(join(dir, 'alias.conf'))).key,
      c.key,
      'key-file, as traffic-manager spells it',
    )
    t.ok(Object.isFrozen(c), 'deep-frozen')
    chmodSync(join(dir, 'short.key'), 0o600)
    await t.rejects(loadConfig(join(dir, 'short.conf')), {
      code: 'KIT_ERR_CONFIG_INVALID',
      issues: [{ line: 3, message: /fewer than 16/ }],
    })
    await t.rejects(loadConfig(join(dir, 'missing.conf')), {
      code: 'KIT_ERR_CONFIG_INVALID',
      issues: [{ line: 4, message: /cannot be read: ENOENT/ }],
    })
    await t.rejects(loadConfig(join(dir, 'none.conf')), {
      code: 'KIT_ERR_CONFIG_UNREADABLE',
    })
  },
)

t.test(
  'loadConfig: --procfs overrides; warnings reach the callback',
  async t => {
    const dir = t.testdir({
      'tcd.conf':
        'node 127.0.0.1\nmaster1 127.0.0.1\nmaster2 127.0.0.1\nprocfs /proc\n',
    })
    const warned: string[] = []
    const c = await loadConfig(join(dir, 'tcd.conf'), {
      procfs: '/tmp/x',
      warn: w => warned.push(w.message),
    })
    t.equal(c.procfs, '/tmp/x')
    t.match(warned, [/same master/])
    writeFileSync(join(dir, 'tcd.conf'), 'node 1\n')
    await t.rejects(loadConfig(join(dir, 'tcd.conf')), {
      code: 'KIT_ERR_CONFIG_INVALID',
      exitCode: 3,
    })
  },
)

t.test('the example tcd.conf is valid', async t => {
  const file = new URL(
    '../../../examples/traffic-node/traffic-client/tcd.conf',
    import.meta.url,
  )
  const { readFileSync } = await import('node:fs')
  const r = parseConfig(readFileSync(file, 'utf8'), 'tcd.conf')
  t.same(r.errors, [])
  t.same(r.warnings, [])
  t.equal(r.config?.keyfile, '/etc/has/report.key')
})
