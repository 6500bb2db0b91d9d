import t from 'tap'
import { readFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import {
  DEFAULTS,
  loadConfig,
  loadReportKey,
  parseConfig,
} from '../src/config.js'

const fixtures = join(import.meta.dirname, 'fixtures')
const errs = (text: string) =>
  parseConfig(text, 'x.cf').errors.map(e => ({
    line: e.line,
    message: e.message,
    value: e.value,
  }))

t.test('the thesis sample (3.19.1) loads as printed', async t => {
  const file = join(fixtures, 'thesis-3.19.1.cf')
  // The fixture is the thesis listing without its typeset line numbers.
  const listing = readFileSync(
    join(fixtures, 'thesis-3.19.1.listing.txt'),
    'utf8',
  )
  t.equal(listing.replace(/^\d+ {0,6}/gm, ''), readFileSync(file, 'utf8'))
  const c = await loadConfig(file)
  t.equal(c.autoreload, false)
  t.equal(c.logfile, 'local0')
  t.equal(c.virtuals.length, 1)
  t.match(c.virtuals[0], {
    name: '192.68.69.30:80',
    fallback: { host: '127.0.0.1', port: 80 },
    reals: [
      { host: '142.133.69.33', port: 80, forwarding: 'masq', weight: 1 },
      { host: '142.133.69.34', port: 80, forwarding: 'masq', weight: 1 },
    ],
    service: 'http',
    request: 'index.html',
    receive: 'Home Page',
    scheduler: 'rr',
    protocol: 'tcp',
    checktype: 'negotiate',
    checktimeout: 10_000,
    negotiatetimeout: 10_000,
    checkinterval: 2_000,
    quiescent: true,
    failurecount: 1,
  })
  t.ok(Object.isFrozen(c.virtuals[0]), 'deep-frozen')
})

t.test('classic indented layout and ldirectord defaults', async t => {
  const r = parseConfig(
    `# global
checktimeout=3
checkinterval=1
autoreload=yes
quiescent=no
virtual=192.168.6.240:80
\treal=192.168.6.2:80 gate
\treal=192.168.6.3:80 gate 5 "/alive", "OK"
\tservice=http
\trequest="index.html"
\treceive="Test Page"
\tvirtualhost=www.example.com
\tscheduler=rr
virtual=[2001:db8::1]:443
    real=[2001:db8::2]:8443 masq
    checktype=connect
    failurecount=3
virtual=10.0.0.1:25
    real=10.0.0.10->10.0.0.12 gate
    checktype=2
`,
    'x.cf',
  )
  t.same(r.errors, [])
  const [a, b, c] = r.config!.virtuals
  t.match(a, {
    checktimeout: 3000,
    negotiatetimeout: 3000,
    checkinterval: 1000,
    quiescent: false,
    virtualhost: 'www.example.com',
  })
  t.match(a?.reals[1], { weight: 5, request: '/alive', receive: 'OK' })
  t.match(b, {
    name: '[2001:db8::1]:443',
    service: 'https',
    checktype: 'connect',
    failurecount: 3,
  })
  t.match(b?.reals[0], { host: '2001:db8::2', port: 8443 })
  t.match(c, {
    service: 'none',
    checktype: 2,
    scheduler: DEFAULTS.scheduler,
    httpmethod: 'GET',
  })
  t.same(
    c?.reals.map(x => `${x.host}:${x.port}`),
    ['10.0.0.10:25', '10.0.0.11:25', '10.0.0.12:25'],
  )
  t.equal(r.config!.autoreload, true)

  const d = parseConfig('virtual=1.2.3.4:8080\n  real=1.2.3.5 gate\n', 'x.cf')
    .config!.virtuals[0]
  t.match(d, {
    checktimeout: DEFAULTS.checktimeout,
    negotiatetimeout: DEFAULTS.negotiatetimeout,
    checkinterval: DEFAULTS.checkinterval,
    quiescent: true,
    checktype: 'negotiate',
    service: 'none',
    reals: [{ port: 8080 }],
  })
})

t.test("a global fallback without a port takes each virtual's", async t => {
  const r = parseConfig(
    'fallback = 127.0.0.1 gate\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\nvirtual = 10.0.0.1:443\n  real = 10.0.0.2 gate\n  fallback = 127.0.0.2:8443\n',
    'x.cf',
  )
  t.same(r.errors, [])
  t.same(
    r.config!.virtuals.map(v => v.fallback),
    [
      { host: '127.0.0.1', port: 80 },
      { host: '127.0.0.2', port: 8443 },
    ],
  )
})

t.test('HAS directives', async t => {
  const r = parseConfig(
    `hasmode = yes
trafficmanager = 10.0.0.1:7000
trafficmanager = [2001:db8::1]:7000
trafficclientcontrol = /run/has/traffic-client.sock
reportkey = "0123456789abcdef"
nodeaddress = 10.0.0.21
restartcommand = "systemctl restart nginx"
virtual = 10.0.0.21:80
    real = 127.0.0.1:80 gate
`,
    'x.cf',
  )
  t.same(r.errors, [])
  t.match(r.config, {
    hasmode: true,
    trafficmanagers: [
      { host: '10.0.0.1', port: 7000 },
      { host: '2001:db8::1', port: 7000 },
    ],
    nodeaddress: '10.0.0.21',
    virtuals: [{ restartcommand: 'systemctl restart nginx' }],
  })
  t.equal(await loadReportKey(r.config!), '0123456789abcdef')
  const dir = t.testdir({ key: 'abcdefgh12345678\n', short: 'x\n' })
  // daemon-kit's key-file rule (issue 19.8): refused unless 0600.
  await t.rejects(
    loadReportKey({
      ...r.config!,
      reportkey: undefined,
      reportkeyfile: join(dir, 'key'),
    } as never),
    { message: /readable by group or others \(mode 644\)/ },
  )
  chmodSync(join(dir, 'key'), 0o600)
  chmodSync(join(dir, 'short'), 0o600)
  const withFile = (f: string) =>
    ({
      ...r.config!,
      reportkey: undefined,
      reportkeyfile: join(dir, f),
    }) as never
  t.equal(await loadReportKey(withFile('key')), 'abcdefgh12345678')
  await t.rejects(loadReportKey(withFile('short')), {
    code: 'LD_ERR_KEYFILE_UNREADABLE',
  })
  await t.rejects(loadReportKey(withFile('missing')), {
    code: 'LD_ERR_KEYFILE_UNREADABLE',
  })
  t.match(errs('hasmode = yes\nvirtual=1.2.3.4:80\n real=1.2.3.5 gate\n'), [
    { line: 1, message: /needs at least one trafficmanager/ },
  ])
})

t.test('broken files name file:line and quote the value', async t => {
  const cases: [string, { line: number; message: RegExp; value?: string }][] = [
    ['checktimeout = soon\n', { line: 1, message: /duration/, value: 'soon' }],
    [
      'frobnicate = 1\n',
      { line: 1, message: /unknown directive "frobnicate"/ },
    ],
    [
      '\n\nemailalert = root\n',
      { line: 3, message: /not supported/, value: 'root' },
    ],
    [
      'real = 1.2.3.4:80 gate\n',
      { line: 1, message: /must follow a virtual=/ },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5:80 tunnel\n',
      { line: 2, message: /forwarding/, value: 'tunnel' },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5:99999 gate\n',
      { line: 2, message: /real must be/ },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  checktype = magic\n',
      { line: 3, message: /checktype/, value: 'magic' },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  service = mysql\n',
      { line: 3, message: /service/, value: 'mysql' },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  receive = "(("\n',
      { line: 3, message: /regular expression/ },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  protocol = udp\n',
      { line: 3, message: /tcp/, value: 'udp' },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  scheduler = fastest\n',
      { line: 3, message: /scheduler/ },
    ],
    [
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  maintenancedir = /tmp\n',
      { line: 3, message: /global directive/ },
    ],
    ['virtual = 1\n', { line: 1, message: /firewall-mark/ }],
    ['virtual = nowhere\n', { line: 1, message: /virtual must be/ }],
    ['virtual = 1.2.3.4:80\n', { line: 1, message: /no real= server/ }],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n real=1.2.3.5:81 gate\n',
      { line: 3, message: /twice/ },
    ],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate\nvirtual = 1.2.3.4:80\n real=1.2.3.6 gate\n',
      { line: 3, message: /duplicate virtual/ },
    ],
    [
      'checkinterval = 1\ncheckinterval = 2\n',
      { line: 2, message: /given twice/ },
    ],
    ['failurecount = 0\n', { line: 1, message: /failurecount/, value: '0' }],
    ['quiescent = maybe\n', { line: 1, message: /yes or no/ }],
    ['= 5\n', { line: 1, message: /expected "directive = value"/ }],
    ['trafficmanager = 10.0.0.1\n', { line: 1, message: /host:port/ }],
    [
      'trafficclientcontrol = relative.sock\n',
      { line: 1, message: /socket path/ },
    ],
    ['reportkey = short\n', { line: 1, message: /at least 16 bytes/ }],
    [
      'reportkey = 0123456789abcde\n',
      { line: 1, message: /at least 16 bytes/ },
    ],
    [
      'reportkey = 0123456789abcdef\nreportkeyfile = /k\n',
      { line: 2, message: /not both/ },
    ],
    ['nodeaddress = node1\n', { line: 1, message: /IP address/ }],
    ['maintenancedir = maint\n', { line: 1, message: /absolute/ }],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate <l:5>\n',
      { line: 2, message: /thresholds/ },
    ],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.9->1.2.3.5 gate\n',
      { line: 2, message: /range/ },
    ],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate "/x"\n',
      { line: 2, message: /request/ },
    ],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n fallback = 1.2.3.6 tunnel\n',
      { line: 3, message: /fallback/ },
    ],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n httpmethod = POST\n',
      { line: 3, message: /GET or HEAD/ },
    ],
    [
      'virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n checkport = 0\n',
      { line: 3, message: /checkport/ },
    ],
  ]
  for (const [text, want] of cases) {
    const r = parseConfig(text, 'x.cf')
    t.equal(r.config, undefined, text)
    t.match(r.errors, [{ file: 'x.cf', ...want }], text)
  }
  await t.rejects(loadConfig(join(fixtures, 'nope.cf')), {
    code: 'KIT_ERR_CONFIG_UNREADABLE',
  })
  const dir = t.testdir({
    'bad.cf': 'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  login = admin\n',
  })
  await t.rejects(loadConfig(join(dir, 'bad.cf')), {
    code: 'KIT_ERR_CONFIG_INVALID',
    message: /bad\.cf:3: directive "login" is not supported/,
  })
})

t.test('the example configs are valid', async t => {
  const root = join(import.meta.dirname, '..', '..', '..', 'examples')
  const director = await loadConfig(
    join(root, 'master-node', 'ldirectord', 'ldirectord.cf'),
  )
  t.equal(director.hasmode, false)
  t.ok(director.trafficmanagercontrol)
  const has = await loadConfig(
    join(root, 'traffic-node', 'ldirectord', 'ldirectord.cf'),
  )
  t.equal(has.hasmode, true)
  t.equal(has.trafficmanagers.length, 2)
})

t.test(
  'ldirectord sample layout: virtual6, real6, fallback6, persistent, netmask, checkcount',
  async t => {
    const c = await loadConfig(join(fixtures, 'upstream-layout.cf'))
    t.same(
      c.virtuals.map(v => v.name),
      ['192.0.2.10:80', '[2001:db8::10]:80', '192.0.2.10:119'],
    )
    const [web, web6, news] = c.virtuals
    t.match(web, {
      fallback: { host: '127.0.0.1', port: 8080 },
      persistent: 600_000,
      netmask: 24,
      checkport: 80,
      checkcount: 1,
      quiescent: false,
    })
    t.match(web6, {
      host: '2001:db8::10',
      port: 80,
      fallback: { host: '::1', port: 80 },
      persistent: 600_000,
      netmask: 64,
    })
    t.same(
      web6?.reals.map(r => `${r.host} ${r.port}`),
      ['2001:db8::2 80', '2001:db8::3 80'],
      'bracketed and bare',
    )
    t.match(news, {
      checktype: 'connect',
      checkcount: 3,
      checkport: 119,
      fallback: { host: '127.0.0.1', port: 80 },
    })
    t.equal(news?.persistent, undefined)

    t.match(errs('virtual6 = 192.0.2.1:80\n  real = 192.0.2.2 gate\n'), [
      { line: 1, message: /virtual6 must be \[ipv6\]:port/ },
    ])
    t.match(errs('virtual = 192.0.2.1:80\n  real6 = 192.0.2.2 gate\n'), [
      { line: 2, message: /real6 must be an IPv6/ },
    ])
    t.match(
      errs(
        'virtual = [2001:db8::1]:80\n  real6 = [2001:db8::2]:80 gate\n  fallback6 = 127.0.0.1\n',
      ),
      [{ line: 3, message: /fallback6 must be an IPv6/ }],
    )
    t.match(
      errs(
        'virtual = [2001:db8::1]:80\n  real6 = [2001:db8::2]:80 gate\n  fallback6 = ::1\n  fallback = 127.0.0.1\n',
      ),
      [{ line: 4, message: /not both/ }],
    )
    t.match(
      errs(
        'virtual = 192.0.2.1:80\n  real = 192.0.2.2 gate\n  netmask = 255.0.255.0\n  persistent = 60\n',
      ),
      [{ line: 3, message: /netmask/, value: '255.0.255.0' }],
    )
    t.match(
      errs(
        'virtual = [2001:db8::1]:80\n  real = [2001:db8::2] gate\n  netmask = 255.255.255.0\n  persistent = 60\n',
      ),
      [{ line: 3, message: /prefix length 1\.\.128/ }],
    )
    t.match(
      errs(
        'virtual = 192.0.2.1:80\n  real = 192.0.2.2 gate\n  persistent = never\n',
      ),
      [{ line: 3, message: /duration/ }],
    )
    t.match(errs('checkcount = 0\n'), [
      { line: 1, message: /checkcount must be 1\.\.100/ },
    ])
    const w = parseConfig(
      'virtual = 192.0.2.1:80\n  real = 192.0.2.2 gate\n  netmask = 24\n',
      'x.cf',
    )
    t.match(w.warnings, [{ line: 3, message: /no effect without persistent/ }])
    t.equal(w.config?.virtuals[0]?.netmask, 24)
  },
)

t.test('lines under a refused section header belong to it', async t => {
  // Before: the lines under `virtual = 2` went to the previous section,
  // so checkport 119 was "given twice" there (or silently its value).
  t.same(
    errs(`virtual = 192.0.2.1:80
    real = 192.0.2.2:80 gate
    checkport = 80
virtual = 2
    real = 192.0.2.3:119 gate
    checkport = 119
`),
    [
      {
        line: 4,
        message: 'firewall-mark virtual services are not supported',
        value: '2',
      },
    ],
  )
  const r = parseConfig(
    'virtual = 192.0.2.1:80\n  real = 192.0.2.2 gate\nvirtual = 192.0.2.1\n  real = 192.0.2.3 gate\n  checkport = 119\n  service = mysql\n',
    'x.cf',
  )
  t.same(
    r.errors.map(e => e.line),
    [3, 6],
    "the refused section's own lines are still checked",
  )
  t.equal(r.config, undefined)
})

t.test('errors come out in line order', async t => {
  // Section checks (no real server) used to follow every line error.
  t.same(
    errs(
      'virtual = 192.0.2.1:80\nfrobnicate = 1\nvirtual = 192.0.2.1:81\n  real = 192.0.2.2 gate\n  checktype = magic\nbogus = 2\n',
    ).map(e => e.line),
    [1, 2, 5, 6],
  )
})

t.test(
  'directive names are looked up in Maps, not in Object.prototype',
  async t => {
    for (const name of [
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
    ]) {
      t.match(
        errs(`${name} = 1\n`),
        [{ line: 1, message: `unknown directive "${name}"` }],
        name,
      )
      t.match(
        errs(
          `virtual = 192.0.2.1:80\n  real = 192.0.2.2 gate\n  ${name} = 1\n`,
        ),
        [{ line: 3, message: `unknown directive "${name}"` }],
        name,
      )
    }
  },
)

t.test('the directive scanner is linear (issue 19.10)', async t => {
  // 4,000 tabs then lone CRs took ~20 s with the old directive regex
  // (cubic backtracking); the bound is ten times what it needs on a loaded
  // machine, and a thousand times less than before.
  const line = 'a' + '\t'.repeat(4000) + '\rb\rc\n'
  const start = process.hrtime.bigint()
  const r = parseConfig(line.repeat(4), 'x.cf')
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.match(r.errors, [{ line: 1, message: 'unknown directive "a"' }])
  t.ok(
    ms < 2000,
    `4 lines of 4,000 tabs parsed in ${ms.toFixed(1)} ms (was ~80 s)`,
  )
  const long = parseConfig(`checkinterval = ${'1'.repeat(20_000)}\n`, 'x.cf')
  t.match(
    long.errors,
    [{ line: 1, message: /line longer than/ }],
    'over-long lines are refused with file:line',
  )
})
