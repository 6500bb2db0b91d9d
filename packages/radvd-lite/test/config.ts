import t from 'tap'
import { join } from 'node:path'
import {
  DEFAULTS,
  INFINITY,
  loadConfig,
  parseConfig,
  parsePrefix,
  formatIpv6,
  ipv6Bytes,
  tokenize,
} from '../src/config.js'

const one = (body: string) => `interface eth0 {\n${body}\n};\n`

t.test('defaults are radvd defaults', async t => {
  const r = parseConfig(
    one('  AdvSendAdvert on;\n  prefix 2001:db8::/64 { };'),
    'r.conf',
  )
  t.same(r.errors, [])
  const i = r.config!.interfaces[0]!
  t.match(i, {
    name: 'eth0',
    AdvSendAdvert: true,
    MaxRtrAdvInterval: 600,
    MinRtrAdvInterval: 198,
    AdvDefaultLifetime: 1800,
    AdvDefaultPreference: 'medium',
    AdvManagedFlag: false,
    AdvOtherConfigFlag: false,
    AdvLinkMTU: 0,
    AdvCurHopLimit: 64,
    AdvReachableTime: 0,
    AdvRetransTimer: 0,
    AdvSourceLLAddress: true,
    IgnoreIfMissing: true,
    AdvRASolicitedUnicast: true,
    RemoveAdvOnExit: true,
  })
  t.same(i.prefixes[0], {
    line: 3,
    prefix: '2001:db8::',
    length: 64,
    AdvOnLink: true,
    AdvAutonomous: true,
    AdvRouterAddr: false,
    AdvValidLifetime: 86400,
    AdvPreferredLifetime: 14400,
    DeprecatePrefix: false,
  })
  t.ok(Object.isFrozen(r.config!.interfaces[0]!.prefixes[0]), 'deep-frozen')
  t.equal(DEFAULTS.MinRtrAdvInterval(4), 3, 'Min never below 3 s')
})

t.test('every directive is read', async t => {
  const text = `
# comment
interface eth1 { AdvSendAdvert on; MaxRtrAdvInterval 100; MinRtrAdvInterval 10.5;
  AdvDefaultLifetime 0; AdvDefaultPreference LOW; AdvManagedFlag yes; AdvOtherConfigFlag on;
  AdvLinkMTU 9000; AdvCurHopLimit 0; AdvReachableTime 3600000; AdvRetransTimer 4294967295;
  AdvSourceLLAddress off; IgnoreIfMissing off; AdvRASolicitedUnicast off; RemoveAdvOnExit off;
  prefix 2001:db8:1::/64 { AdvOnLink off; AdvAutonomous off; AdvRouterAddr on;
    AdvValidLifetime infinity; AdvPreferredLifetime 100; DeprecatePrefix on; };
  route 2001:db8:9::/48 { AdvRoutePreference high; AdvRouteLifetime infinity; RemoveRoute off; };
  rdnss 2001:db8::53 2001:DB8:0::54 { AdvRDNSSLifetime 1000; FlushRDNSS off; };
  DNSSL Example.COM. b.example { AdvDNSSLLifetime infinity; FlushDNSSL off; };
};`
  const r = parseConfig(text, 'a.conf')
  t.same(r.errors, [])
  const i = r.config!.interfaces[0]!
  t.match(i, {
    MaxRtrAdvInterval: 100,
    MinRtrAdvInterval: 10.5,
    AdvDefaultLifetime: 0,
    AdvDefaultPreference: 'low',
    AdvManagedFlag: true,
    AdvLinkMTU: 9000,
    AdvCurHopLimit: 0,
    AdvReachableTime: 3600000,
    AdvRetransTimer: INFINITY,
    AdvSourceLLAddress: false,
    IgnoreIfMissing: false,
    AdvRASolicitedUnicast: false,
    RemoveAdvOnExit: false,
  })
  t.match(i.prefixes[0], {
    AdvOnLink: false,
    AdvAutonomous: false,
    AdvRouterAddr: true,
    AdvValidLifetime: INFINITY,
    AdvPreferredLifetime: 100,
    DeprecatePrefix: true,
  })
  t.match(i.routes[0], {
    prefix: '2001:db8:9::',
    length: 48,
    AdvRoutePreference: 'high',
    AdvRouteLifetime: INFINITY,
    RemoveRoute: false,
  })
  t.match(i.rdnss[0], {
    servers: ['2001:db8::53', '2001:db8::54'],
    AdvRDNSSLifetime: 1000,
    FlushRDNSS: false,
  })
  t.match(i.dnssl[0], {
    domains: ['Example.COM', 'b.example'],
    AdvDNSSLLifetime: INFINITY,
    FlushDNSSL: false,
  })
  t.equal(i.routes[0]!.line, 9)
})

t.test('errors name file:line and quote the value', async t => {
  const cases: [string, RegExp, number, string?][] = [
    [
      '  MaxRtrAdvInterval 3;',
      /MaxRtrAdvInterval must be a number in 4\.\.65535/,
      2,
      '3',
    ],
    [
      '  MaxRtrAdvInterval 100;\n  MinRtrAdvInterval 80;',
      /MinRtrAdvInterval must be in 3\.\.75/,
      3,
      '80',
    ],
    ['  MinRtrAdvInterval 2;', /MinRtrAdvInterval must be in 3\.\./, 2, '2'],
    [
      '  MaxRtrAdvInterval 100;\n  AdvDefaultLifetime 50;',
      /AdvDefaultLifetime must be 0 or in 100\.\.65535/,
      3,
      '50',
    ],
    [
      '  AdvDefaultLifetime 70000;',
      /AdvDefaultLifetime must be an integer in 0\.\.65535/,
      2,
      '70000',
    ],
    [
      '  AdvLinkMTU 1000;',
      /AdvLinkMTU must be 0 or in 1280\.\.131072/,
      2,
      '1000',
    ],
    ['  AdvCurHopLimit 256;', /AdvCurHopLimit/, 2, '256'],
    ['  AdvReachableTime 3600001;', /AdvReachableTime/, 2, '3600001'],
    ['  AdvManagedFlag maybe;', /must be on or off/, 2, 'maybe'],
    ['  AdvDefaultPreference highest;', /low, medium or high/, 2, 'highest'],
    ['  AdvSendAdvert on off;', /exactly one value/, 2, 'on off'],
    ['  AdvFoo on;', /unknown directive in interface eth0/, 2, 'AdvFoo'],
    [
      '  prefix 2001:db8::/64 { AdvBar on; };',
      /unknown directive in prefix block/,
      2,
      'AdvBar',
    ],
    [
      '  prefix 2001:db8::/129 { };',
      /prefix needs one IPv6 prefix/,
      2,
      '2001:db8::/129',
    ],
    [
      '  prefix 10.0.0.0/8 { };',
      /prefix needs one IPv6 prefix/,
      2,
      '10.0.0.0/8',
    ],
    [
      '  prefix 2001:db8::/64 { AdvValidLifetime 10; AdvPreferredLifetime 20; };',
      /AdvPreferredLifetime must not exceed/,
      2,
      '20',
    ],
    [
      '  prefix 2001:db8::/64 { AdvValidLifetime forever; };',
      /integer in 0\.\.4294967295 or infinity/,
      2,
      'forever',
    ],
    [
      '  prefix 2001:db8::/64 { };\n  prefix 2001:db8::/64 { };',
      /prefix listed twice/,
      3,
    ],
    ['  prefix ::/64 { };', /special prefix ::\/N/, 2, '::/64'],
    ['  route nope { };', /route needs one IPv6 prefix/, 2, 'nope'],
    ['  RDNSS 1.2.3.4 { };', /RDNSS needs one or more IPv6/, 2, '1.2.3.4'],
    ['  RDNSS { };', /RDNSS needs/, 2, 'nothing'],
    [
      '  RDNSS 2001:db8::1 { AdvRDNSSLifetime 5; };',
      /at least MaxRtrAdvInterval/,
      2,
      '5',
    ],
    [
      '  DNSSL bad..name { };',
      /DNSSL needs one or more domain/,
      2,
      'bad..name',
    ],
    [
      '  DNSSL a.example { AdvDNSSLLifetime 1; };',
      /AdvDNSSLLifetime must be 0 or at least/,
      2,
      '1',
    ],
    ['  AdvSendAdvert on', /expected "AdvSendAdvert <value>;"/, 2, '}'],
  ]
  for (const [body, re, line, value] of cases) {
    const r = parseConfig(one(body), '/etc/x.conf')
    t.notOk(r.config, body)
    const e = r.errors.find(i => re.test(i.message))
    t.ok(e, `${body} -> ${JSON.stringify(r.errors)}`)
    t.equal(e?.line, line, `${body}: line`)
    t.equal(e?.file, '/etc/x.conf')
    if (value !== undefined) t.equal(e?.value, value, `${body}: value`)
  }
})

t.test('structural errors', async t => {
  const cases: [string, RegExp][] = [
    ['', /no interface block/],
    ['prefix 2001:db8::/64 { };', /expected "interface <name>/],
    ['interface { };', /interface needs a name/],
    [
      'interface eth0 AdvSendAdvert on; };',
      /expected "\{" after "interface eth0"/,
    ],
    [
      'interface eth0 { AdvSendAdvert on;',
      /missing "\}" closing interface eth0/,
    ],
    [
      'interface eth0 { prefix 2001:db8::/64 AdvOnLink on; }; };',
      /expected "\{" after "prefix/,
    ],
    ['interface eth0 { };\ninterface eth0 { };', /interface configured twice/],
    ['interface eth0 { }', /expected ";" after the closing/],
    ['interface this-name-is-too-long { };', /invalid interface name/],
    ['interface eth0 { AdvFoo { }; };', /unknown directive/],
  ]
  for (const [text, re] of cases) {
    const r = parseConfig(text, 'x')
    t.ok(
      r.errors.some(e => re.test(e.message)),
      `${text} -> ${JSON.stringify(r.errors)}`,
    )
  }
  // An unknown option just before the closing brace still reports once.
  const r = parseConfig('interface eth0 { AdvFoo }; ', 'x')
  t.equal(r.errors.length, 1)
})

t.test('warnings', async t => {
  const r = parseConfig(
    one(`  MaxRtrAdvInterval 2000;
  AdvSendAdvert on;
  AdvSendAdvert off;
  prefix 2001:db8::1/64 { };
  prefix 2001:db8:1::/48 { };
  RDNSS 2001:db8::53 { AdvRDNSSLifetime 3000; };`),
    'w.conf',
  )
  t.same(r.errors, [])
  const msgs = r.warnings.map(w => `${w.line}: ${w.message}`)
  t.match(msgs.join('\n'), /2: MaxRtrAdvInterval above 1800/)
  t.match(msgs.join('\n'), /4: AdvSendAdvert given twice/)
  t.match(
    msgs.join('\n'),
    /5: prefix has host bits set; advertising 2001:db8::\/64/,
  )
  t.match(msgs.join('\n'), /6: SLAAC .* \/64/)
  t.match(msgs.join('\n'), /7: AdvRDNSSLifetime should exceed/)
  t.equal(r.config!.interfaces[0]!.AdvSendAdvert, false, 'last one wins')
})

t.test('loadConfig reads a file or throws a ConfigError', async t => {
  const dir = t.testdir({
    'good.conf': one('AdvSendAdvert on;'),
    'bad.conf': one('AdvSendAdvert perhaps;'),
  })
  const ok = await loadConfig(join(dir, 'good.conf'))
  t.equal(ok.config.interfaces[0]!.AdvSendAdvert, true)
  await t.rejects(loadConfig(join(dir, 'bad.conf')), {
    code: 'KIT_ERR_CONFIG_INVALID',
    issues: [{ line: 2, value: 'perhaps' }],
  })
  await t.rejects(loadConfig(join(dir, 'missing.conf')), {
    code: 'KIT_ERR_CONFIG_UNREADABLE',
  })
})

t.test('address helpers', async t => {
  t.equal(
    formatIpv6(ipv6Bytes('2001:0db8:0:0:1:0:0:1')),
    '2001:db8::1:0:0:1',
    'RFC 5952: first longest run',
  )
  t.equal(formatIpv6(ipv6Bytes('::')), '::')
  t.equal(formatIpv6(ipv6Bytes('fe80::1%eth0')), 'fe80::1')
  t.equal(formatIpv6(ipv6Bytes('::ffff:192.0.2.1')), '::ffff:c000:201')
  t.equal(formatIpv6(ipv6Bytes('1:2:3:4:5:6:7:8')), '1:2:3:4:5:6:7:8')
  t.equal(
    formatIpv6(ipv6Bytes('1:0:3:4:5:6:7:8')),
    '1:0:3:4:5:6:7:8',
    'a single 0 group is not shortened',
  )
  t.same(parsePrefix('2001:db8:1:2::/56'), {
    prefix: '2001:db8:1::',
    length: 56,
    hostBits: true,
  })
  t.same(parsePrefix('2001:db8::/0'), {
    prefix: '::',
    length: 0,
    hostBits: true,
  })
  t.equal(parsePrefix('2001:db8::'), undefined)
  t.same(
    tokenize('a{b;}# c\nd').map(x => `${x.line}:${x.text}`),
    ['1:a', '1:{', '1:b', '1:;', '1:}', '2:d'],
  )
})

t.test(
  'as radvd: truncated defaults, blocks keep the Max in force, DNSSL case kept',
  async t => {
    const { FRACTIONAL, LATE } = await import('./fixtures/configs.js')
    // Before: rounding gave 77/26 for Max 25.5 (radvd sends 76/25).
    const f = parseConfig(FRACTIONAL('eth0'), 'r.conf')
    t.same(f.errors, [])
    t.match(f.config!.interfaces[0], {
      AdvDefaultLifetime: 76,
      routes: [{ AdvRouteLifetime: 76 }],
      rdnss: [{ AdvRDNSSLifetime: 25 }],
      dnssl: [
        {
          AdvDNSSLLifetime: 25,
          domains: ['Cluster.Example', 'Svc.EXAMPLE.org'],
        },
      ],
    })
    // Before: the later MaxRtrAdvInterval 30 changed every block's defaults.
    const l = parseConfig(LATE('eth0'), 'r.conf')
    t.same(l.errors, [])
    t.match(l.config!.interfaces[0], {
      MaxRtrAdvInterval: 30,
      AdvDefaultLifetime: 90,
      routes: [{ AdvRouteLifetime: 1800 }, { AdvRouteLifetime: 90 }],
      rdnss: [{ AdvRDNSSLifetime: 600 }],
      dnssl: [{ AdvDNSSLLifetime: 600 }],
    })
  },
)

t.test(
  'the tokenizer is linear; over-long lines are refused with file:line',
  async t => {
    // /#.*$/ was quadratic on a long run of `#` ending in a lone CR (no
    // match at any start): 300 lines of 8,000 took ~10 s. Generous bound, no timing
    // detail asserted.
    const start = process.hrtime.bigint()
    const toks = tokenize(
      `interface eth0 { ${'#'.repeat(8000)}\rx\n`.repeat(300),
    )
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    t.equal(toks.length, 900)
    t.ok(
      ms < 2000,
      `300 lines of 8,000 # (old code: ~10 s) in ${ms.toFixed(1)} ms`,
    )
    const r = parseConfig(
      `interface eth0 {\n  AdvSendAdvert on; ${' '.repeat(9000)}\n};\n`,
      'r.conf',
    )
    t.match(r.errors, [
      { file: 'r.conf', line: 2, message: /line longer than/ },
    ])
  },
)
