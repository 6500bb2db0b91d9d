import { configOrThrow } from '@has/daemon-kit'
import t from 'tap'
import { parseConfig } from '../src/config.js'

const base =
  'node m1\npeer 10.0.0.12\nauth-key secret-key-1\nservice 10.0.0.100:80\n'

t.test('defaults and a full file', async t => {
  const c = configOrThrow(parseConfig(base))
  t.equal(c.node, 'm1')
  t.same(c.peers, [{ host: '10.0.0.12', port: 6950 }])
  t.equal(c.syncThresholdMs, 1000)
  t.equal(c.refreshIntervalMs, 10_000)
  t.equal(c.entryTimeoutS, 120)
  t.equal(c.maxDatagram, 1400)
  t.same(c.services, [{ address: '10.0.0.100', port: 80, proto: 'tcp' }])
  const full = configOrThrow(
    parseConfig(
      base +
        'listen 10.0.0.11:7000\nmulticast 239.1.2.3:7001 10.0.0.11\nhmac sha512\nsync-threshold 300ms\nrefresh-interval 5s\nentry-timeout 60\nmax-datagram 9000\nheartbeat 127.0.0.1\nproxy-control /run/has/traffic-manager.sock\nproxy-poll 1s\n',
    ),
  )
  t.same(full.multicast, {
    group: '239.1.2.3',
    port: 7001,
    interface: '10.0.0.11',
  })
  t.same(full.heartbeat, { host: '127.0.0.1', port: 6941 })
  t.equal(full.hmac, 'sha512')
  t.ok(Object.isFrozen(full))
})

t.test('errors name file:line and quote the value', async t => {
  t.throws(
    () => configOrThrow(parseConfig(base + 'sync-threshold soon\n', 'x.conf')),
    {
      message: /x\.conf:5: sync-threshold .*\(got "soon"\)/,
    },
  )
  t.throws(
    () => configOrThrow(parseConfig(base + 'frobnicate 1\n', 'x.conf')),
    {
      message: /x\.conf:5: unknown directive \(got "frobnicate"\)/,
    },
  )
  t.throws(
    () => configOrThrow(parseConfig(base + 'peer nowhere:99999\n', 'x.conf')),
    {
      message: /x\.conf:5: peer/,
    },
  )
  t.throws(() => configOrThrow(parseConfig(base + 'max-datagram 20\n')), {
    message: /max-datagram/,
  })
  t.throws(() => configOrThrow(parseConfig(base + 'multicast 10.0.0.1\n')), {
    message: /multicast/,
  })
  t.throws(
    () =>
      configOrThrow(
        parseConfig('node m1\nservice 10.0.0.100:80\npeer 10.0.0.2\n'),
      ),
    { message: /auth-key/ },
  )
  t.throws(
    () =>
      configOrThrow(
        parseConfig('auth-key secret-key-1\nservice 10.0.0.100:80\n'),
      ),
    { message: /peer or a multicast/ },
  )
  t.throws(
    () =>
      configOrThrow(
        parseConfig(base + 'refresh-interval 60s\nentry-timeout 100s\n'),
      ),
    { message: /twice refresh-interval/ },
  )
})

t.test('nice and scheduler: conntrackd-like priority, good values', async t => {
  const none = configOrThrow(parseConfig(base))
  t.equal(none.nice, undefined, 'unset: inherited')
  t.equal(none.scheduler, undefined)
  const c = configOrThrow(parseConfig(base + 'nice -10\nscheduler rr 10\n'))
  t.equal(c.nice, -10)
  t.same(c.scheduler, { policy: 'rr', priority: 10 })
  const cases: [string, unknown][] = [
    ['scheduler fifo 99', { policy: 'fifo', priority: 99 }],
    ['scheduler rr', { policy: 'rr', priority: 1 }],
    ['scheduler other', { policy: 'other', priority: 0 }],
    ['scheduler other 0', { policy: 'other', priority: 0 }],
  ]
  for (const [line, want] of cases)
    t.same(configOrThrow(parseConfig(`${base}${line}\n`)).scheduler, want, line)
  for (const n of [-20, 0, 19])
    t.equal(configOrThrow(parseConfig(`${base}nice ${n}\n`)).nice, n)
})

t.test('nice and scheduler: bad values name file:line', async t => {
  const bad: [string, RegExp][] = [
    ['nice -21', /x\.conf:5: nice must be an integer -20\.\.19 \(got "-21"\)/],
    ['nice 20', /x\.conf:5: nice .*\(got "20"\)/],
    ['nice high', /x\.conf:5: nice .*\(got "high"\)/],
    ['nice', /x\.conf:5: nice/],
    [
      'scheduler deadline',
      /x\.conf:5: scheduler must be rr\|fifo \[priority 1\.\.99\] or other \(got "deadline"\)/,
    ],
    ['scheduler', /x\.conf:5: scheduler must be/],
    [
      'scheduler rr 0',
      /x\.conf:5: scheduler rr priority must be an integer 1\.\.99 \(got "0"\)/,
    ],
    ['scheduler fifo 100', /x\.conf:5: scheduler fifo priority .*"100"/],
    ['scheduler rr ten', /x\.conf:5: scheduler rr priority .*"ten"/],
    ['scheduler rr 10 20', /x\.conf:5: scheduler must be .*"rr 10 20"/],
    [
      'scheduler other 5',
      /x\.conf:5: scheduler other takes no priority \(got "5"\)/,
    ],
  ]
  for (const [line, message] of bad)
    t.throws(
      () => configOrThrow(parseConfig(`${base}${line}\n`, 'x.conf')),
      { message },
      line,
    )
})
