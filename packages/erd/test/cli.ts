// The CLI in-process: usage and config errors map to exit statuses; the
// daemon path itself runs in test/integration (it needs a kernel).
import t from 'tap'
import { join } from 'node:path'
import { main, formatStatus } from '../src/cli.js'
import type { ErdStatus } from '../src/erd.js'

function io() {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: {
      out: (s: string) => void out.push(s),
      err: (s: string) => void err.push(s),
    },
  }
}
const argv = (...a: string[]) => ['node', 'erd', ...a]

t.test(
  '--check-config: 0 on a good file, 3 with file:line on a bad one',
  async t => {
    const dir = t.testdir({
      'good.conf': 'updelay 1s\n',
      'bad.conf': 'updelay 1s\nprimary_reselect never\n',
    })
    const a = io()
    t.equal(
      await main(argv('--check-config', '-c', join(dir, 'good.conf')), a.io),
      0,
    )
    t.match(a.out.join(''), /configuration OK/)
    const b = io()
    t.equal(await main(argv('-t', '-c', join(dir, 'bad.conf')), b.io), 3)
    t.match(
      b.err.join(''),
      /bad\.conf:2: primary_reselect must be always, better or failure \(got "never"\)/,
    )
    const c = io()
    t.equal(
      await main(
        argv('eth0', 'eth0', '-t', '-c', join(dir, 'good.conf')),
        c.io,
      ),
      3,
    )
    t.match(c.err.join(''), /secondary must differ/)
  },
)

t.test(
  '--check-config on Object.prototype names: exit 3 naming the line, no stack',
  async t => {
    // Before: `constructor 1` found Object's constructor in the directive
    // table and crashed with "spec.parse is not a function".
    const dir = t.testdir({
      'proto.conf':
        'constructor 1\ntoString x\nhasOwnProperty 1\n__proto__ 1\n',
    })
    const a = io()
    t.equal(
      await main(argv('--check-config', '-c', join(dir, 'proto.conf')), a.io),
      3,
    )
    const text = a.err.join('')
    for (const [line, name] of [
      [1, 'constructor'],
      [2, 'toString'],
      [3, 'hasOwnProperty'],
      [4, '__proto__'],
    ] as const) {
      t.match(text, `proto.conf:${line}: unknown directive "${name}"`)
    }
    t.notMatch(text, /TypeError|at /)
  },
)

t.test('usage errors exit 2; --version exits 0', async t => {
  const a = io()
  t.equal(await main(argv('eth0'), a.io), 2)
  t.match(a.err.join(''), /both interfaces/)
  const b = io()
  t.equal(await main(argv('--log-level', 'loud'), b.io), 2)
  const c = io()
  t.equal(await main(argv('--version'), c.io), 0)
  t.match(c.out.join(''), /^\d+\.\d+\.\d+/)
})

t.test('status with no daemon is a clear runtime error', async t => {
  const dir = t.testdir({})
  const a = io()
  t.equal(
    await main(argv('status', '--control', join(dir, 'none.sock')), a.io),
    1,
  )
  t.match(a.err.join(''), /KIT_ERR_CONTROL_UNREACHABLE/)
})

t.test('status text', async t => {
  const s: ErdStatus = {
    active: 'secondary',
    pinned: null,
    links: {
      primary: {
        ifname: 'eth0',
        phase: 'coming-up',
        carrier: true,
        since: 'T1',
        until: 'T2',
        flapping: true,
        recentLosses: 3,
      },
      secondary: {
        ifname: 'eth1',
        phase: 'up',
        carrier: true,
        since: 'T0',
        flapping: false,
        recentLosses: 0,
      },
    },
    transitions: [
      {
        at: 'T1',
        from: 'primary',
        to: 'secondary',
        reason: 'primary link down',
        applyMs: 2.5,
      },
    ],
    savedRoutes: [],
    ipv6Targets: [],
    ipv6Announce: 'na',
  }
  const text = formatStatus(s)
  t.match(text, /^active: secondary/)
  t.match(text, /primary\s+eth0\s+coming-up until T2\s+yes\s+T1\s+yes/)
  t.match(text, /secondary\s+eth1\s+up\s+yes\s+T0\s+no\s+\*/)
  t.match(text, /T1\s+primary\s+secondary\s+2\.5\s+primary link down/)
  t.match(
    formatStatus({ ...s, active: null, transitions: [] }),
    /no transitions/,
  )
  t.match(formatStatus({ ...s, pinned: 'secondary' }), /pinned by operator/)
  t.notMatch(text, /ipv6 announcements/)
  t.match(
    formatStatus({ ...s, ipv6Announce: 'ns' }),
    /^active: secondary\nipv6 announcements: solicitations to known neighbours only \(no perl/,
  )
})
