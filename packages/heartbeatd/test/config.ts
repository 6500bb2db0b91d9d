import t from 'tap'
import { fileURLToPath } from 'node:url'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseHaCf, loadConfig, DEFAULTS } from '../src/config.js'
import { parseAuthkeys } from '../src/authkeys.js'
import { parseHaresources } from '../src/haresources.js'
import { IssueList, formatIssue } from '@has/daemon-kit'

const good = `# fast
keepalive 50ms
deadtime 200ms
warntime 100ms
initdead 2
udpport 694
bcast eth0
mcast eth1 239.0.0.7 694 1 0
ucast eth2 10.0.1.2
node alpha beta
auto_failback on
ping 10.0.0.254
event_listen 127.0.0.1:7000
`

t.test('ha.cf: directives and their meaning', async t => {
  const { config, errors } = parseHaCf(good, '/etc/ha.d/ha.cf')
  t.same(errors, [])
  t.equal(config?.keepalive, 50)
  t.equal(config?.deadtime, 200)
  t.equal(config?.warntime, 100)
  t.equal(config?.initdead, 2000)
  t.equal(config?.autoFailback, true)
  t.same(
    config?.media.map(m => m.kind),
    ['bcast', 'mcast', 'ucast'],
  )
  t.same(config?.nodes, ['alpha', 'beta'])
  t.same(config?.eventListen, { host: '127.0.0.1', port: 7000 })
  t.equal(config?.authkeysFile, '/etc/ha.d/authkeys')
})

t.test('ha.cf: defaults are the documented fast-failover ones', async t => {
  const { config } = parseHaCf('bcast eth0\nnode a b\n', 'x.cf')
  t.equal(config?.keepalive, DEFAULTS.keepalive)
  t.equal(config?.deadtime, DEFAULTS.deadtime)
  t.equal(config?.warntime, DEFAULTS.warntime)
  t.equal(config?.initdead, DEFAULTS.initdead)
  t.equal(config?.autoFailback, false)
  t.equal(config?.udpport, 694)
  t.equal(config?.realtime, true)
})

t.test('ha.cf: errors name file:line and quote the value', async t => {
  const cases: [string, RegExp][] = [
    [
      'keepalive 2x\nbcast eth0\nnode a b\n',
      /x\.cf:1: keepalive must be a time.*"2x"/,
    ],
    [
      'keepalive 100ms\ndeadtime 150ms\nbcast eth0\nnode a b\n',
      /x\.cf:2: deadtime must be more than 2\*keepalive/,
    ],
    [
      'bcast eth0\nnode a b\nserial /dev/ttyS0\n',
      /x\.cf:3: heartbeat directive "serial" is not supported/,
    ],
    [
      'bcast eth0\nnode a b\nfrobnicate 1\n',
      /x\.cf:3: unknown directive "frobnicate"/,
    ],
    ['bcast eth0\nnode a b c\n', /x\.cf:2: exactly two node names/],
    [
      'bcast eth0\nudpport 700\nnode a b\n',
      /x\.cf:2: udpport must come before/,
    ],
    [
      'mcast eth0 10.0.0.1 694 1 0\nnode a b\n',
      /x\.cf:1: mcast group must be an IPv4 multicast/,
    ],
    [
      'ucast eth0 nothere\nnode a b\n',
      /x\.cf:1: ucast peer must be an IPv4 address \(got "nothere"\)/,
    ],
    [
      'bcast eth0\nnode a b\nauto_failback maybe\n',
      /x\.cf:3: auto_failback must be on or off/,
    ],
    ['node a b\n', /no heartbeat media/],
    [
      'bcast eth0\nnode a b\ninitdead 50ms\n',
      /x\.cf:3: initdead must be at least deadtime/,
    ],
    [
      'bcast eth0\nnode a b\nrealtime sometimes\n',
      /x\.cf:3: realtime must be on or off \(got "sometimes"\)/,
    ],
  ]
  for (const [text, re] of cases) {
    const { errors } = parseHaCf(text, 'x.cf')
    t.match(
      errors.map(formatIssue).join('\n'),
      re,
      text.split('\n')[0] as string,
    )
  }
})

t.test(
  'authkeys: sha1/md5 accepted, crc refused, auth must name a key',
  async t => {
    const i = new IssueList()
    const k = parseAuthkeys(
      'auth 2\n1 md5 old-secret-0123456\n2 sha1 new-secret-0123456\n',
      'authkeys',
      i,
    )
    t.same(i.errors, [])
    t.equal(k?.active, 2)
    t.equal(k?.keys.length, 2)
    const bad = new IssueList()
    parseAuthkeys('auth 1\n1 crc\n', 'authkeys', bad)
    t.match(
      formatIssue(bad.errors[0]!),
      /authkeys:2: crc authenticates nothing/,
    )
    const miss = new IssueList()
    parseAuthkeys('auth 3\n1 sha1 secret-0123456789\n', 'authkeys', miss)
    t.match(
      formatIssue(miss.errors[0]!),
      /authkeys:1: auth names a key index that is not defined/,
    )
  },
)

// Issue 19 item 8: one key rule (daemon-kit KEY_MIN_BYTES, 16 bytes) for
// authkeys too; heartbeatd accepted 8-character secrets.
t.test(
  'authkeys: a secret shorter than 16 bytes is refused at file:line',
  async t => {
    const short = new IssueList()
    parseAuthkeys('auth 1\n# keys\n1 sha1 fifteen-chars!!\n', 'authkeys', short)
    t.match(
      formatIssue(short.errors[0]!),
      /^authkeys:3: secret missing or shorter than 16 bytes \(got "15 bytes"\)$/,
    )
    const ok = new IssueList()
    parseAuthkeys('auth 1\n1 sha1 sixteen-chars!!!\n', 'authkeys', ok)
    t.same(ok.errors, [], '16 bytes is enough')
    // Bytes, not characters: 8 two-byte characters are 16 bytes.
    const utf = new IssueList()
    parseAuthkeys(
      'auth 1\n1 sha1 \u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\n',
      'authkeys',
      utf,
    )
    t.same(utf.errors, [])
  },
)

t.test('haresources: groups, bare IPs, agent args', async t => {
  const i = new IssueList()
  const g = parseHaresources(
    'alpha 10.0.0.50/24/eth0 hadaemon::tm::traffic-manager\nbeta 10.0.0.51\n',
    'haresources',
    ['alpha', 'beta'],
    i,
  )
  t.same(i.errors, [])
  t.same(
    g.map(x => x.name),
    ['alpha', 'beta'],
  )
  t.same(
    g[0]?.resources.map(r => [r.agent, r.args]),
    [
      ['IPaddr', ['10.0.0.50/24/eth0']],
      ['hadaemon', ['tm', 'traffic-manager']],
    ],
  )
  const bad = new IssueList()
  parseHaresources('gamma 10.0.0.1\n', 'haresources', ['alpha', 'beta'], bad)
  t.match(
    formatIssue(bad.errors[0]!),
    /haresources:1: first word must be a node/,
  )
})

t.test('loadConfig: authkeys mode, local node, agents', async t => {
  const dir = t.testdir({
    'ha.cf': 'bcast eth0\nnode alpha beta\n',
    authkeys: 'auth 1\n1 sha1 secret-secret-secret\n',
    haresources: 'alpha 10.0.0.50 nosuchagent::x\n',
  })
  const cf = join(dir, 'ha.cf')
  chmodSync(join(dir, 'authkeys'), 0o644)
  await t.rejects(loadConfig(cf, { node: 'alpha' }), {
    code: 'HB_ERR_AUTHKEYS_MODE',
    exitCode: 3,
  })
  chmodSync(join(dir, 'authkeys'), 0o600)
  await t.rejects(loadConfig(cf, { node: 'gamma' }), {
    code: 'HB_ERR_CONFIG_LOCAL_NODE',
  })
  await t.rejects(loadConfig(cf, { node: 'alpha' }), {
    message: /haresources:1: no executable resource agent "nosuchagent"/,
  })
  writeFileSync(join(dir, 'haresources'), 'alpha 10.0.0.50 hadaemon::x::true\n')
  const c = await loadConfig(cf, { node: 'alpha' })
  t.equal(c.peerNode, 'beta')
  t.match(c.agents.IPaddr, /resource\.d\/IPaddr$/)
  t.ok(Object.isFrozen(c))
})

t.test(
  'the shipped example passes --check-config (authkeys copied 0600)',
  async t => {
    const { readFileSync } = await import('node:fs')
    const ex = new URL(
      '../../../examples/master-node/heartbeatd/',
      import.meta.url,
    )
    const files = Object.fromEntries(
      ['ha.cf', 'authkeys', 'haresources'].map(f => [
        f,
        readFileSync(new URL(f, ex), 'utf8'),
      ]),
    )
    const dir = t.testdir(files)
    chmodSync(join(dir, 'authkeys'), 0o600)
    // The install step haresources names: conn-syncd's readiness agent
    // linked into a resource_dir.
    const { mkdirSync, symlinkSync, appendFileSync } = await import('node:fs')
    mkdirSync(join(dir, 'rd'))
    symlinkSync(
      fileURLToPath(
        new URL(
          '../../conn-syncd/resource.d/conn-syncd-ready',
          import.meta.url,
        ),
      ),
      join(dir, 'rd', 'conn-syncd-ready'),
    )
    appendFileSync(join(dir, 'ha.cf'), `resource_dir ${join(dir, 'rd')}\n`)
    const c = await loadConfig(join(dir, 'ha.cf'), { node: 'master1' })
    t.equal(c.deadtime, 100)
    t.same(
      c.groups.map(g => g.resources.map(r => r.agent)),
      // The VIPs behind conn-syncd's readiness check: traffic-manager and
      // conn-syncd run on both masters from their own units (issue 18.3).
      [['conn-syncd-ready', 'IPaddr', 'IPaddr']],
    )
  },
)

t.test('ha.cf: deadtime_max bounds the adaptive deadline', async t => {
  const d = parseHaCf('bcast eth0\nnode a b\n', 'x.cf').config
  t.equal(d?.deadtimeMax, 4 * DEFAULTS.deadtime, 'default: 4 x deadtime')
  const c = parseHaCf(
    'deadtime 200ms\ndeadtime_max 1\nbcast eth0\nnode a b\n',
    'x.cf',
  ).config
  t.equal(c?.deadtimeMax, 1000)
  const off = parseHaCf(
    'deadtime_max 100ms\nbcast eth0\nnode a b\n',
    'x.cf',
  ).config
  t.equal(off?.deadtimeMax, 100, 'equal to deadtime: no adaptation')
  const bad = parseHaCf('deadtime_max 50ms\nbcast eth0\nnode a b\n', 'x.cf')
  t.match(
    bad.errors.map(formatIssue).join('\n'),
    /x\.cf:1: deadtime_max must be at least deadtime \(100ms\).*"50ms"/,
  )
})
