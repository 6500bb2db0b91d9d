import t from 'tap'
import { parseConfig, parseSource, loadConfig } from '../src/config.js'
import { mountConfigText, syncConfigText } from '../src/cli-config.js'
import { ConfigError, configOrThrow } from '@has/daemon-kit'

const issuesOf = (text: string): string[] => {
  try {
    configOrThrow(parseConfig(text, 'hnm.conf'))
  } catch (e) {
    if (e instanceof ConfigError) {
      return e.issues.map(
        i =>
          `${i.file}:${i.line}: ${i.message}${i.value === undefined ? '' : ` [${i.value}]`}`,
      )
    }
    throw e
  }
  return []
}

t.test('fstab-like mount lines with defaults and ha- options', async t => {
  const c = configOrThrow(
    parseConfig(
      [
        '# two mounts',
        'interval 100ms',
        'failback-hold never',
        'master-a,master-b:/export /mnt/CommonNFS/  ro,soft,timeo=10,ha-failures=4',
        'a,b,c:/srv/data /data vers=4.1,port=20490,ha-failback=5s',
        'sync /srv/export rsync://master-b/export/',
        'sync /srv/x master-b:/srv/x',
      ].join('\n'),
      'hnm.conf',
    ),
  )
  t.equal(c.interval, 100)
  t.equal(
    c.probeTimeout,
    100,
    'an unset probe-timeout follows a short interval',
  )
  const [m1, m2] = c.mounts
  t.match(m1, {
    servers: ['master-a', 'master-b'],
    exportPath: '/export',
    mountPoint: '/mnt/CommonNFS',
    nfsOptions: ['ro', 'soft', 'timeo=10'],
    failures: 4,
    failbackHoldMs: null,
    rpcVersions: [3, 4],
    rpcPort: 2049,
    line: 4,
  })
  t.match(m2, {
    servers: ['a', 'b', 'c'],
    rpcVersions: [4],
    rpcPort: 20490,
    failbackHoldMs: 5000,
    failures: 2,
  })
  t.equal(c.syncs.length, 2)
  t.ok(Object.isFrozen(c.mounts[0]), 'deep-frozen')
})

t.test('errors name file:line and quote the value', async t => {
  t.same(
    issuesOf(
      [
        'interval soon', // 1
        'failures 0', // 2
        'bogus 1', // 3
        'a,b:/x relative', // 4
        'a,,b:/x /m', // 5
        'a,b:/x /m ha-nope=1', // 6
        'mounter nfs3', // 7
        'rpc-versions 3,5', // 8
        'sync relative /t', // 9
        'a,b:/y /m', // 10
        'failback-hold sometimes', // 11
      ].join('\n'),
    ),
    [
      'hnm.conf:1: interval: expected a duration from 1ms to 24h (200ms, 2s) [soon]',
      'hnm.conf:2: failures: expected an integer from 1 to 100 [0]',
      'hnm.conf:3: unknown directive [bogus]',
      'hnm.conf:7: mounter: expected nfs or bind [nfs3]',
      'hnm.conf:8: rpc-versions: expected a list of 2, 3 or 4 (e.g. 3,4) [3,5]',
      'hnm.conf:9: sync: source must be an absolute path [relative]',
      'hnm.conf:11: failback-hold: expected a duration or `never` [sometimes]',
      'hnm.conf:4: mount point: expected an absolute path other than / [relative]',
      'hnm.conf:5: mount source: expected server1[,server2...]:/export [a,,b:/x]',
      'hnm.conf:6: unknown ha- option [ha-nope=1]',
      'hnm.conf:10: mount point already used at line 6 [/m]',
    ],
  )
})

t.test('cross checks', async t => {
  t.match(issuesOf('interval 100ms\nprobe-timeout 200ms\na,b:/x /m'), [
    /hnm.conf:2: probe-timeout must not exceed interval/,
  ])
  t.match(issuesOf('# empty'), [/nothing to do/])
  t.match(issuesOf('mounter bind\nbind-map a:/x /d\na,b:/x /m'), [
    /hnm.conf:3: mounter bind: no bind-map for b:\/x/,
  ])
  t.match(issuesOf('sync-retry-min 10s\nsync-retry-max 1s\nsync /a /b'), [
    /hnm.conf:2: sync-retry-max/,
  ])
  t.match(issuesOf('sync /a ftp://x'), [/target must be/])
})

t.test('parseSource', async t => {
  t.same(parseSource('a,b:/export'), {
    servers: ['a', 'b'],
    exportPath: '/export',
  })
  t.same(parseSource('[fd00::1],10.0.0.2:/e'), {
    servers: ['[fd00::1]', '10.0.0.2'],
    exportPath: '/e',
  })
  t.equal(parseSource('a,a:/e'), undefined, 'duplicate server')
  t.equal(parseSource(':/e'), undefined)
  t.equal(parseSource('a b:/e'), undefined)
})

t.test('command-line forms go through the same parser', async t => {
  const c = configOrThrow(
    parseConfig(
      mountConfigText('s1,s2:/export', '/mnt/p', {
        options: 'soft,ha-failures=5',
        mounter: 'bind',
        bindMap: ['s1:/export=/srv/1', 's2:/export=/srv/2'],
        failbackHold: 'never',
      }),
      '<command line>',
    ),
  )
  t.match(c.mounts[0], {
    servers: ['s1', 's2'],
    failures: 5,
    failbackHoldMs: null,
    nfsOptions: ['soft'],
  })
  t.same(c.bindMap, { 's1:/export': '/srv/1', 's2:/export': '/srv/2' })
  const s = configOrThrow(
    parseConfig(
      syncConfigText('/a', '/b dir', { delay: '0ms' }),
      '<command line>',
    ),
  )
  t.same(s.syncs[0], { source: '/a', target: '/b dir', line: 2 })
  t.equal(s.syncDelay, 0)
})

t.test('loadConfig: a missing file is a config error', async t => {
  await t.rejects(loadConfig('/nonexistent/hnm.conf'), {
    code: 'KIT_ERR_CONFIG_UNREADABLE',
    exitCode: 3,
  })
})

t.test('parsing stays linear on long slash runs (issue 19.10)', async t => {
  // The mount point's trailing slashes were cut with /\/+$/, retried from
  // every slash of a run: 300 such lines took ~20 s. Generous bound.
  const line = `a,b:/export /${'/'.repeat(8000)}x ro\n`
  const start = process.hrtime.bigint()
  const issues = issuesOf(line.repeat(300))
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  t.equal(
    issues.length,
    299,
    'the 299 repeats are refused as "already used", each at its line',
  )
  t.match(issues[0], /hnm\.conf:2: mount point already used/)
  t.ok(
    ms < 2000,
    `300 lines of 8,000 slashes parsed in ${ms.toFixed(1)} ms (was ~20 s)`,
  )
  t.same(
    configOrThrow(parseConfig('a,b:/export /mnt/x//// ro\n', 'hnm.conf'))
      .mounts[0]?.mountPoint,
    '/mnt/x',
  )
  t.match(issuesOf(`a,b:/export /mnt/${'x'.repeat(9000)} ro\n`), [
    /hnm\.conf:1: line longer than/,
  ])
})
