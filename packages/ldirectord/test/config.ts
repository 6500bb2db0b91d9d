import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULTS, loadConfig, loadReportKey, parseConfig } from '../src/config.js'

const fixtures = join(import.meta.dirname, 'fixtures')
const errs = (text: string) => parseConfig(text, 'x.cf').errors.map(e => ({ line: e.line, message: e.message, value: e.value }))

t.test('the thesis sample (3.19.1) loads as printed', async t => {
  const file = join(fixtures, 'thesis-3.19.1.cf')
  // The fixture is the thesis listing without its typeset line numbers.
  const listing = readFileSync(join(fixtures, 'thesis-3.19.1.listing.txt'), 'utf8')
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
  t.match(a, { checktimeout: 3000, negotiatetimeout: 3000, checkinterval: 1000, quiescent: false, virtualhost: 'www.example.com' })
  t.match(a?.reals[1], { weight: 5, request: '/alive', receive: 'OK' })
  t.match(b, { name: '[2001:db8::1]:443', service: 'https', checktype: 'connect', failurecount: 3 })
  t.match(b?.reals[0], { host: '2001:db8::2', port: 8443 })
  t.match(c, { service: 'none', checktype: 2, scheduler: DEFAULTS.scheduler, httpmethod: 'GET' })
  t.same(c?.reals.map(x => `${x.host}:${x.port}`), ['10.0.0.10:25', '10.0.0.11:25', '10.0.0.12:25'])
  t.equal(r.config!.autoreload, true)

  const d = parseConfig('virtual=1.2.3.4:8080\n  real=1.2.3.5 gate\n', 'x.cf').config!.virtuals[0]
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

t.test('a global fallback without a port takes each virtual\'s', async t => {
  const r = parseConfig('fallback = 127.0.0.1 gate\nvirtual = 10.0.0.1:80\n  real = 10.0.0.2 gate\nvirtual = 10.0.0.1:443\n  real = 10.0.0.2 gate\n  fallback = 127.0.0.2:8443\n', 'x.cf')
  t.same(r.errors, [])
  t.same(r.config!.virtuals.map(v => v.fallback), [{ host: '127.0.0.1', port: 80 }, { host: '127.0.0.2', port: 8443 }])
  t.match(errs('virtual = 10.0.0.1:80\n  real6 = [::1]:80 gate\n'), [{ line: 2, message: /not supported/ }])
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
    trafficmanagers: [{ host: '10.0.0.1', port: 7000 }, { host: '2001:db8::1', port: 7000 }],
    nodeaddress: '10.0.0.21',
    virtuals: [{ restartcommand: 'systemctl restart nginx' }],
  })
  t.equal(await loadReportKey(r.config!), '0123456789abcdef')
  const dir = t.testdir({ key: 'abcdefgh12345678\n', short: 'x\n' })
  const withFile = (f: string) => ({ ...r.config!, reportkey: undefined, reportkeyfile: join(dir, f) }) as never
  t.equal(await loadReportKey(withFile('key')), 'abcdefgh12345678')
  await t.rejects(loadReportKey(withFile('short')), { code: 'LD_ERR_KEYFILE_UNREADABLE' })
  await t.rejects(loadReportKey(withFile('missing')), { code: 'LD_ERR_KEYFILE_UNREADABLE' })
  t.match(errs('hasmode = yes\nvirtual=1.2.3.4:80\n real=1.2.3.5 gate\n'), [{ line: 1, message: /needs at least one trafficmanager/ }])
})

t.test('broken files name file:line and quote the value', async t => {
  const cases: [string, { line: number; message: RegExp; value?: string }][] = [
    ['checktimeout = soon\n', { line: 1, message: /duration/, value: 'soon' }],
    ['frobnicate = 1\n', { line: 1, message: /unknown directive "frobnicate"/ }],
    ['\n\nemailalert = root\n', { line: 3, message: /not supported/, value: 'root' }],
    ['real = 1.2.3.4:80 gate\n', { line: 1, message: /must follow a virtual=/ }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5:80 tunnel\n', { line: 2, message: /forwarding/, value: 'tunnel' }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5:99999 gate\n', { line: 2, message: /real must be/ }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  checktype = magic\n', { line: 3, message: /checktype/, value: 'magic' }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  service = mysql\n', { line: 3, message: /service/, value: 'mysql' }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  receive = "(("\n', { line: 3, message: /regular expression/ }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  protocol = udp\n', { line: 3, message: /tcp/, value: 'udp' }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  scheduler = fastest\n', { line: 3, message: /scheduler/ }],
    ['virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  maintenancedir = /tmp\n', { line: 3, message: /global directive/ }],
    ['virtual = 1\n', { line: 1, message: /firewall-mark/ }],
    ['virtual = nowhere\n', { line: 1, message: /virtual must be/ }],
    ['virtual = 1.2.3.4:80\n', { line: 1, message: /no real= server/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n real=1.2.3.5:81 gate\n', { line: 3, message: /twice/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate\nvirtual = 1.2.3.4:80\n real=1.2.3.6 gate\n', { line: 3, message: /duplicate virtual/ }],
    ['checkinterval = 1\ncheckinterval = 2\n', { line: 2, message: /given twice/ }],
    ['failurecount = 0\n', { line: 1, message: /failurecount/, value: '0' }],
    ['quiescent = maybe\n', { line: 1, message: /yes or no/ }],
    ['= 5\n', { line: 1, message: /expected "directive = value"/ }],
    ['trafficmanager = 10.0.0.1\n', { line: 1, message: /host:port/ }],
    ['trafficclientcontrol = relative.sock\n', { line: 1, message: /socket path/ }],
    ['reportkey = short\n', { line: 1, message: /8 characters/ }],
    ['reportkey = 0123456789\nreportkeyfile = /k\n', { line: 2, message: /not both/ }],
    ['nodeaddress = node1\n', { line: 1, message: /IP address/ }],
    ['maintenancedir = maint\n', { line: 1, message: /absolute/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate <l:5>\n', { line: 2, message: /thresholds/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.9->1.2.3.5 gate\n', { line: 2, message: /range/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate "/x"\n', { line: 2, message: /request/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n fallback = 1.2.3.6 tunnel\n', { line: 3, message: /fallback/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n httpmethod = POST\n', { line: 3, message: /GET or HEAD/ }],
    ['virtual = 1.2.3.4:80\n real=1.2.3.5 gate\n checkport = 0\n', { line: 3, message: /checkport/ }],
  ]
  for (const [text, want] of cases) {
    const r = parseConfig(text, 'x.cf')
    t.equal(r.config, undefined, text)
    t.match(r.errors, [{ file: 'x.cf', ...want }], text)
  }
  await t.rejects(loadConfig(join(fixtures, 'nope.cf')), { code: 'KIT_ERR_CONFIG_UNREADABLE' })
  const dir = t.testdir({ 'bad.cf': 'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  login = admin\n' })
  await t.rejects(loadConfig(join(dir, 'bad.cf')), {
    code: 'KIT_ERR_CONFIG_INVALID',
    message: /bad\.cf:3: directive "login" is not supported/,
  })
})

t.test('the example configs are valid', async t => {
  const root = join(import.meta.dirname, '..', '..', '..', 'examples')
  const director = await loadConfig(join(root, 'master-node', 'ldirectord', 'ldirectord.cf'))
  t.equal(director.hasmode, false)
  t.ok(director.trafficmanagercontrol)
  const has = await loadConfig(join(root, 'traffic-node', 'ldirectord', 'ldirectord.cf'))
  t.equal(has.hasmode, true)
  t.equal(has.trafficmanagers.length, 2)
})
