import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig, loadConfig, DEFAULTS } from '../src/config.js'

const example = join(fileURLToPath(new URL('.', import.meta.url)), '../../../examples/master-node/traffic-manager/tmd.conf')

t.test('the example tmd.conf parses', t => {
  const { config, issues } = parseConfig(readFileSync(example, 'utf8'), example)
  t.same(issues.errors, [])
  t.equal(config?.nodes.length, 5)
  t.same(config?.masters, ['127.0.0.1', '127.0.0.2'])
  t.equal(config?.services.length, 2)
  const v6 = config?.services[1]
  t.equal(v6?.name, '[::1]:8443')
  t.equal(v6?.family, 6)
  t.equal(v6?.persistentMs, 300_000)
  t.equal(config?.services[0]?.nodes[0]?.port, 8081)
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
  const { config, issues } = parseConfig(text, 'a.conf')
  t.same(issues.errors, [])
  t.same(config?.nodes.map(n => [n.address, n.role]), [
    ['10.0.0.11', 'active'],
    ['10.0.0.21', 'standby'],
    ['fd00::22', 'standby'],
  ])
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
  t.equal(s?.idleTimeoutMs, DEFAULTS.idleTimeout)
  t.end()
})

// Every kind of mistake names its line and quotes the bad value.
const cases: [string, string, number, RegExp, string | undefined][] = [
  ['unknown directive', 'traffic1 10.0.0.1\nfrobnicate 3', 2, /unknown directive/, 'frobnicate'],
  ['bad node address', 'traffic1 10.0.0.300', 1, /IPv4 or IPv6/, '10.0.0.300'],
  ['numbered twice', 'traffic1 10.0.0.1\ntraffic1 10.0.0.2', 2, /given twice/, undefined],
  ['same node twice', 'traffic1 10.0.0.1\ntraffic2 10.0.0.1', 2, /already declared/, '10.0.0.1'],
  ['missing value', 'port', 1, /exactly one value/, ''],
  ['port range', 'port 70000', 1, /0\.\.65535/, '70000'],
  ['port twice', 'port 1\nport 2', 2, /given twice/, undefined],
  ['timeout', 'timeout soon', 1, /timeout/, 'soon'],
  ['timeout too small', 'timeout 1', 1, /timeout/, '1'],
  ['listen', 'listen example.org', 1, /listen/, 'example.org'],
  ['ErrorLog relative', 'ErrorLog tmd.log', 1, /absolute/, 'tmd.log'],
  ['short key', 'key abc', 1, /16 characters/, '<hidden>'],
  ['workers', 'workers many', 1, /workers/, 'many'],
  ['shutdown-deadline', 'shutdown-deadline forever', 1, /shutdown-deadline/, 'forever'],
  ['virtual without port', 'traffic1 10.0.0.1\nvirtual 10.0.0.9\n  node 10.0.0.1:80', 2, /virtual needs/, '10.0.0.9'],
  ['virtual twice', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1', 4, /given twice/, '10.0.0.9:80'],
  ['virtual without nodes', 'virtual 10.0.0.9:80', 1, /no node lines/, undefined],
  ['undeclared node', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.2', 3, /not declared/, '10.0.0.2'],
  ['node listed twice', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  node 10.0.0.1:81', 4, /listed twice/, '10.0.0.1:81'],
  ['bad node spec', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1:x', 3, /node needs/, '10.0.0.1:x'],
  ['bad scheduler', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  scheduler fastest', 4, /scheduler must be/, 'fastest'],
  ['bad dataplane', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  dataplane ebpf', 4, /dataplane must be/, 'ebpf'],
  ['bad persistent', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  persistent always', 4, /persistent/, 'always'],
  ['bad connect-timeout', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  connect-timeout 0', 4, /connect-timeout/, '0'],
  ['bad idle-timeout', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  idle-timeout -1', 4, /idle-timeout/, '-1'],
  ['scheduler twice', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  scheduler rr\n  scheduler wrr', 5, /twice/, undefined],
  ['unknown in block', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  weight 3', 4, /unknown directive in virtual/, 'weight'],
  ['bad option', 'traffic1 10.0.0.1\nvirtual 10.0.0.9:80\n  node 10.0.0.1\n  option Bad', 4, /option takes/, 'Bad'],
  ['indent outside block', '  node 10.0.0.1', 1, /outside a "virtual" block/, 'node'],
  ['key and key-file', 'key 0123456789abcdef0\nkey-file /etc/k', 2, /either key or key-file/, undefined],
]
for (const [name, text, line, message, value] of cases) {
  t.test(`error: ${name}`, t => {
    const { config, issues } = parseConfig(text, 'bad.conf')
    t.equal(config, undefined)
    const e = issues.errors[0]
    t.ok(e, 'an error is reported')
    t.equal(e?.file, 'bad.conf')
    t.equal(e?.line, line)
    t.match(e?.message, message)
    if (value !== undefined) t.equal(e?.value, value)
    t.end()
  })
}

t.test('loadConfig reads the key file and reports it by line', async t => {
  const dir = t.testdir({
    'key': 'secret-secret-secret\n',
    'short': 'abc\n',
    'ok.conf': 'traffic1 127.0.0.11\nkey-file ./KEY\n',
  })
  const write = (k: string): string => {
    const p = join(dir, `${k}.conf`)
    require_write(p, `traffic1 127.0.0.11\n\nkey-file ${join(dir, k)}\n`)
    return p
  }
  const c = await loadConfig(write('key'))
  t.equal(c.key, 'secret-secret-secret')
  t.ok(Object.isFrozen(c), 'validated config is frozen')
  await t.rejects(loadConfig(write('short')), { issues: [{ line: 3, message: /16 characters/ }] })
  await t.rejects(loadConfig(write('missing')), { issues: [{ line: 3, message: /ENOENT/ }] })
  await t.rejects(loadConfig(join(dir, 'nope.conf')), { code: 'KIT_ERR_CONFIG_UNREADABLE' })
})

import { writeFileSync as require_write } from 'node:fs'
