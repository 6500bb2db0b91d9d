import t from 'tap'
import { join } from 'node:path'
import { main, formatStatus } from '../src/cli.js'

function io() {
  const out: string[] = []
  const err: string[] = []
  return {
    io: {
      out: (s: string) => void out.push(s),
      err: (s: string) => void err.push(s),
    },
    out,
    err,
  }
}

t.test(
  '--check-config: 0 when valid, 3 with file:line and the value',
  async t => {
    const dir = t.testdir({
      'good.conf': 'protocol vip4\n',
      'bad.conf': 'protocol vip4\nsettle forever\n',
    })
    const a = io()
    t.equal(
      await main(
        ['node', 'vip-announcer', '-c', join(dir, 'good.conf'), '-t'],
        a.io,
      ),
      0,
    )
    t.match(a.out.join(''), /good\.conf: configuration OK/)
    const b = io()
    t.equal(
      await main(
        [
          'node',
          'vip-announcer',
          '--config',
          join(dir, 'bad.conf'),
          '--check-config',
        ],
        b.io,
      ),
      3,
    )
    t.match(
      b.err.join(''),
      /bad\.conf:2: settle must be a duration in 0ms\.\.600000ms \(bare number = ms\) \(got "forever"\)/,
    )
    const c = io()
    t.equal(
      await main(
        ['node', 'vip-announcer', '-c', join(dir, 'nope.conf'), '-t'],
        c.io,
      ),
      3,
    )
  },
)

t.test('usage errors exit 2; --version prints the version', async t => {
  t.equal(await main(['node', 'vip-announcer', '--bogus'], io().io), 2)
  t.equal(
    await main(['node', 'vip-announcer', '--log-level', 'loud'], io().io),
    2,
  )
  const v = io()
  t.equal(await main(['node', 'vip-announcer', '--version'], v.io), 0)
  t.match(v.out.join(''), /^\d+\.\d+\.\d+/)
})

t.test(
  'status without a daemon exits 1; formatStatus renders state, protocols and peers',
  async t => {
    const a = io()
    t.equal(
      await main(
        [
          'node',
          'vip-announcer',
          'status',
          '--control',
          join(t.testdir({}), 'none.sock'),
        ],
        a.io,
      ),
      1,
    )
    t.match(a.err.join(''), /KIT_ERR_CONTROL_UNREACHABLE/)
    const text = formatStatus({
      state: 'announced',
      since: '2026-01-01T00:00:00.000Z',
      reason: 'settled',
      detail: 'healthy for 1000 ms',
      announced: true,
      protocols: [{ name: 'vip4', bird: 'enabled' }],
      bird: { socket: '/run/bird/bird.ctl', connected: true },
      trafficManager: {
        socket: '/run/has/traffic-manager.sock',
        connected: true,
      },
      lastWithdrawMs: 2,
    })
    t.match(
      text,
      /^state announced since 2026-01-01T00:00:00.000Z \(settled: healthy for 1000 ms\); routes announced; last withdrawal took 2 ms/,
    )
    t.match(text, /vip4\s+enabled/)
    t.match(text, /traffic-manager\s+\/run\/has\/traffic-manager.sock\s+yes/)
  },
)
