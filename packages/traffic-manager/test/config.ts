import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig, loadConfig, DEFAULTS } from '../src/config.js'

const example = join(
  fileURLToPath(new URL('.', import.meta.url)),
  '../../../examples/master-node/traffic-manager/tmd.conf',
)

t.test('the example tmd.conf parses', t => {
  const { config, errors } = parseConfig(readFileSync(example, 'utf8'), example)
  t.same(errors, [])
  t.ok((config?.nodes.length ?? 0) > 0, 'declares nodes')
  t.equal(config?.masters.length, 2, 'two masters')
  t.ok((config?.services.length ?? 0) > 0, 'declares services')
  t.ok(
    config?.services.some(s => s.family === 6),
    'and an IPv6 one',
  )
  t.ok(
    config?.key !== undefined || config?.keyFile !== undefined,
    'with a report key (19.3)',
  )
  t.end()
})

t.test('persistence granularity and cap, report-from', t => {
  const ok = parseConfig(
    [
      'traffic1 10.0.0.11',
      'report-from 192.0.2.0/24 2001:db8::/48',
      'report-from 198.51.100.7',
      'virtual 10.0.0.100:80',
      '  node 10.0.0.11',
      '  persistent 60',
      '  persistent-max 500',
      '  netmask 255.255.255.0',
      '  persistent-prefix6 56',
      'virtual 10.0.0.100:81',
      '  node 10.0.0.11',
      '',
    ].join('\n'),
    'p.conf',
  )
  t.same(ok.errors, [])
  t.same(ok.config?.reportFrom, [
    '192.0.2.0/24',
    '2001:db8::/48',
    '198.51.100.7',
  ])
  t.match(ok.config?.services[0], {
    persistentMax: 500,
    persistentNetmask: 24,
    persistentPrefix6: 56,
  })
  t.match(
    ok.config?.services[1],
    {
      persistentMax: DEFAULTS.persistentMax,
      persistentNetmask: 32,
      persistentPrefix6: 64,
    },
    'documented defaults',
  )
  const bad = parseConfig(
    [
      'traffic1 10.0.0.11',
      'report-from 10.0.0.0/33',
      'report-from nope',
      'virtual 10.0.0.100:80',
      '  node 10.0.0.11',
      '  persistent-max 0',
      '  persistent-netmask 255.0.255.0',
      '  persistent-prefix6 129',
      '',
    ].join('\n'),
    'b.conf',
  )
  t.same(
    bad.errors.map(e => [e.line, e.value]),
    [
      [2, '10.0.0.0/33'],
      [3, 'nope'],
      [6, '0'],
      [7, '255.0.255.0'],
      [8, '129'],
    ],
  )
  t.end()
})

t.test('defaults and thesis-style bare standby lines', t => {
  const text = [
    '# TMD Configuration File',
    'master1 10.0.0.1',
    'traffic1 10.0.0.11',
    '# standby nodes',
    '10.0.0.21',
    'fd00::22',
    'virtual 10.0.0.100:80',
    '  node 10.0.0.11',
    '  node [fd00::22]:8080',
  ].join('\n')
  const { config, errors } = parseConfig(text, 'a.conf')
  t.same(errors, [])
  t.same(
    config?.nodes.map(n => [n.address, n.role]),
    [
      ['10.0.0.11', 'active'],
      ['10.0.0.21', 'standby'],
      ['fd00::22', 'standby'],
    ],
  )
  t.equal(config?.port, DEFAULTS.port)
  t.equal(config?.timeoutMs, DEFAULTS.timeout)
  t.equal(config?.workers, 'auto')
  const s = config?.services[0]
  t.same(s?.nodes, [
    { address: '10.0.0.11', port: 80 },
    { address: 'fd00::22', port: 8080 },
  ])
  t.equal(s?.scheduler, 'p2c')
  t.equal(s?.dataplane, 'proxy')
  t.equal(s?.failStatic, true, 'fail-static on by default')
  t.equal(
    parseConfig(
      'traffic1 10.0.0.11\nvirtual 10.0.0.100:80\n  node 10.0.0.11\n  fail-static off',
      'b.conf',
    ).config?.services[0]?.failStatic,
    false,
    'fail-static off',
  )
  t.equal(s?.idleTimeoutMs, DEFAULTS.idleTimeout)
  t.end()
})

// Every kind of mistake names its line and quotes the bad value.
const cases: [string, string, number, RegExp, string | undefined][] = [
  [
    'unknown directive',
    'traffic1 10.0.0.1\nfrobnicate 3',
    2,
    /unknown directive/,
    'frobnicate',
  ],
  ['bad node address', 'traffic1 10.0.0.300', 1, /IPv4 or IPv6/, '10.0.0.300'],
  [
    'numbered twice',
    'traffic1 10.0.0.1\ntraffic1 10.0.0.2',
    2,
    /given twice/,
    undefined,
  ],
  [
    'same node twice',
    'traffic1 10.0.0.1\ntraffic2 10.0.0.1',
    2,
    /already declared/,
    '10.0.0.1',
  ],
  ['missing value', 'port', 1, /exactly one value/, ''],
  ['port range', 'port 70000', 1, /0\.\.65535/, '70000'],
  ['port twice', 'port 1\nport 2', 2, /given twice/, undefined],
  ['timeout', 'timeout soon', 1, /timeout/, 'soon'],
  ['timeout too small', 'timeout 1', 1, /timeout/, '1'],
  ['listen', 'listen example.org', 1, /listen/, 'example.org'],
  ['ErrorLog relative', 'ErrorLog tmd.log', 1, /absolute/, 'tmd.log'],
  ['short key', 'key abc', 1, /16 characters/, '<hidden>'],
  ['workers', 'workers many', 1, /workers/, 'many'],
  [
    'shutdown-deadline',
    'shutdown-deadline forever',
    1,
    /shutdown-deadline/,
    'forever',
  ],
  [
    'virtual without port',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9\n  node 10.0.0.1:80',
    2,
    /virtual needs/,
    '10.0.0.9',
  ],
  [
    'virtual twice',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1',
    4,
    /given twice/,
    '10.0.0.9:80',
  ],
  [
    'virtual without nodes',
    'virtual 10.0.0.9:80',
    1,
    /no node lines/,
    undefined,
  ],
  [
    'undeclared node',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.2',
    3,
    /not declared/,
    '10.0.0.2',
  ],
  [
    'node listed twice',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  node 10.0.0.1:81',
    4,
    /listed twice/,
    '10.0.0.1:81',
  ],
  [
    'bad node spec',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1:x',
    3,
    /node needs/,
    '10.0.0.1:x',
  ],
  [
    'bad scheduler',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  scheduler fastest',
    4,
    /scheduler must be/,
    'fastest',
  ],
  [
    'bad dataplane',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  dataplane ebpf',
    4,
    /dataplane must be/,
    'ebpf',
  ],
  [
    'bad persistent',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  persistent always',
    4,
    /persistent/,
    'always',
  ],
  [
    'bad connect-timeout',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  connect-timeout 0',
    4,
    /connect-timeout/,
    '0',
  ],
  [
    'bad idle-timeout',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  idle-timeout -1',
    4,
    /idle-timeout/,
    '-1',
  ],
  [
    'bad fail-static',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  fail-static maybe',
    4,
    /fail-static must be on or off/,
    'maybe',
  ],
  [
    'scheduler twice',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  scheduler rr\n  scheduler wrr',
    5,
    /twice/,
    undefined,
  ],
  [
    'unknown in block',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  weight 3',
    4,
    /unknown directive in virtual/,
    'weight',
  ],
  [
    'bad option',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  option Bad',
    4,
    /option takes/,
    'Bad',
  ],
  [
    'bad kernel-plane option value',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  dataplane nftables\n  node 10.0.0.1\n  option weight-interval soon',
    5,
    /option weight-interval: expected 0 to 60000 ms.*"soon"/,
    undefined,
  ],
  [
    'direct-routing option that needs another',
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  dataplane nftables-dr\n  node 10.0.0.1\n  option node-interfaces any',
    5,
    /option node-interfaces any: needs option interface/,
    undefined,
  ],
  [
    'indent outside block',
    '  node 10.0.0.1',
    1,
    /outside a "virtual" block/,
    'node',
  ],
  [
    'key and key-file',
    'key 0123456789abcdef0\nkey-file /etc/k',
    2,
    /either key or key-file/,
    undefined,
  ],
]
for (const [name, text, line, message, value] of cases) {
  t.test(`error: ${name}`, t => {
    const { config, errors } = parseConfig(text, 'bad.conf')
    t.equal(config, undefined)
    const e = errors[0]
    t.ok(e, 'an error is reported')
    t.equal(e?.file, 'bad.conf')
    t.equal(e?.line, line)
    t.match(e?.message, message)
    if (value !== undefined) t.equal(e?.value, value)
    t.end()
  })
}

/** The error a promise rejects with (a fulfilled one fails the match). */
const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => new Error('resolved, expected a rejection'),
    (e: unknown) => e,
  )

t.test('loadConfig reads the key file and reports it by line', async t => {
  const dir = t.testdir({
    key: 'secret-secret-secret\n',
    short: 'abc\n',
    'ok.conf': 'traffic1 127.0.0.11\nkey-file ./KEY\n',
  })
  const write = (k: string): string => {
    const p = join(dir, `${k}.conf`)
    require_write(p, `traffic1 127.0.0.11\n\nkey-file ${join(dir, k)}\n`)
    return p
  }
  // daemon-kit's key-file rule (issue 19.8): 0600 or refused, >= 16 bytes.
  t.match(await rejection(loadConfig(write('key'))), {
    issues: [{ line: 3, message: /readable by group or others \(mode 644\)/ }],
  })
  chmodSync(join(dir, 'key'), 0o600)
  chmodSync(join(dir, 'short'), 0o600)
  const c = await loadConfig(write('key'))
  t.equal(c.key, 'secret-secret-secret')
  t.ok(Object.isFrozen(c), 'validated config is frozen')
  t.match(await rejection(loadConfig(write('short'))), {
    issues: [{ line: 3, message: /fewer than 16 bytes/ }],
  })
  t.match(await rejection(loadConfig(write('missing'))), {
    issues: [{ line: 3, message: /ENOENT/ }],
  })
  t.match(await rejection(loadConfig(join(dir, 'nope.conf'))), {
    code: 'KIT_ERR_CONFIG_UNREADABLE',
  })
})

import { writeFileSync as require_write, chmodSync } from 'node:fs'

// Issue 17.6: autojoin ranges per service, a cap, and never without a key.
t.test('autojoin: ranges, cap, and refused without a report key', t => {
  const ok = parseConfig(
    [
      'key a-shared-report-key-123',
      'autojoin-max 8',
      'virtual 10.0.0.100:80',
      '  autojoin 10.0.0.0/24',
      '  autojoin 2001:db8:1::/64',
      'virtual 10.0.0.100:81',
      '  autojoin 10.0.1.5',
      '',
    ].join('\n'),
    'a.conf',
  )
  t.same(ok.errors, [], 'a service may list no node when it has autojoin')
  t.same(ok.config?.services[0]?.autojoin, ['10.0.0.0/24', '2001:db8:1::/64'])
  t.same(
    ok.config?.services[1]?.autojoin,
    ['10.0.1.5/32'],
    'a bare address is a /32',
  )
  t.equal(ok.config?.autojoinMax, 8)
  t.equal(
    parseConfig('traffic1 10.0.0.11\n', 'd.conf').config?.autojoinMax,
    DEFAULTS.autojoinMax,
    'documented default',
  )
  const keyless = parseConfig(
    ['virtual 10.0.0.100:80', '  autojoin 10.0.0.0/24', ''].join('\n'),
    'k.conf',
  )
  t.same(
    keyless.errors.map(e => [e.file, e.line, e.value]),
    [['k.conf', 2, '10.0.0.0/24']],
  )
  t.match(keyless.errors[0]?.message, /autojoin needs a report key/)
  const bad = parseConfig(
    [
      'key a-shared-report-key-123',
      'autojoin-max 0',
      'virtual 10.0.0.100:80',
      '  autojoin 10.0.0.0/33',
      '  autojoin nope',
      '',
    ].join('\n'),
    'b.conf',
  )
  t.same(
    bad.errors.map(e => [e.line, e.value]),
    [
      [2, '0'],
      [4, '10.0.0.0/33'],
      [5, 'nope'],
      [3, undefined],
    ],
    'and the block has no valid node source',
  )
  t.end()
})

t.test('kernel-plane options that pass: together, or for another plane', t => {
  for (const text of [
    // node-interfaces any needs interface, given on another line.
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  dataplane nftables-dr\n  node 10.0.0.1\n  option node-interfaces any\n  option interface eth0',
    // The proxy reads none of the kernel planes' options.
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  option weight-interval soon',
    // Keys a plane does not know belong to the control plane.
    'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  dataplane nftables\n  node 10.0.0.1\n  option weight-interval 250ms\n  option something-else x',
  ]) {
    const { errors } = parseConfig(text, 'ok.conf')
    t.same(errors, [], text.split('\n').slice(2).join(' | '))
  }
  t.end()
})
