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
  '--check-config: 0 when valid (warnings on stderr), 3 with file:line',
  async t => {
    const dir = t.testdir({
      'good.conf':
        'interface eth0 {\n AdvSendAdvert on;\n prefix 2001:db8::1/64 { };\n};\n',
      'bad.conf':
        'interface eth0 {\n AdvSendAdvert on;\n MaxRtrAdvInterval 2;\n};\n',
    })
    const a = io()
    t.equal(
      await main(
        ['node', 'radvd-lite', '-C', join(dir, 'good.conf'), '-c'],
        a.io,
      ),
      0,
    )
    t.match(a.out.join(''), /good\.conf: configuration OK/)
    t.match(a.err.join(''), /warning: .*good\.conf:3: prefix has host bits set/)
    const b = io()
    t.equal(
      await main(
        [
          'node',
          'radvd-lite',
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
      /bad\.conf:3: MaxRtrAdvInterval must be a number in 4\.\.65535 \(got "2"\)/,
    )
    const c = io()
    t.equal(
      await main(
        ['node', 'radvd-lite', '-C', join(dir, 'nope.conf'), '-c'],
        c.io,
      ),
      3,
    )
  },
)

t.test('usage errors exit 2; --version prints the version', async t => {
  const a = io()
  t.equal(await main(['node', 'radvd-lite', '--bogus'], a.io), 2)
  const b = io()
  t.equal(await main(['node', 'radvd-lite', '--log-level', 'loud'], b.io), 2)
  const v = io()
  t.equal(await main(['node', 'radvd-lite', '--version'], v.io), 0)
  t.match(v.out.join(''), /^\d+\.\d+\.\d+/)
})

t.test(
  'status without a daemon fails with exit 1; formatStatus renders tables',
  async t => {
    const a = io()
    t.equal(
      await main(
        [
          'node',
          'radvd-lite',
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
      interfaces: [
        {
          name: 'eth0',
          state: 'advertising',
          linkLocal: 'fe80::1',
          raSent: 3,
          lastRa: { at: '2026-01-01T00:00:00.000Z', kind: 'unsolicited' },
          lastRs: null,
          rsReceived: 0,
          rsDropped: { hoplimit: 1, malformed: 2 },
          prefixes: [
            {
              prefix: '2001:db8::/64',
              valid: 86400,
              preferred: 14400,
              deprecated: false,
            },
            {
              prefix: '2001:db8:1::/64',
              valid: 7000,
              preferred: 0,
              deprecated: true,
            },
          ],
        },
      ],
    })
    t.match(
      text,
      /eth0\s+advertising\s+fe80::1\s+3\s+2026-01-01T00:00:00.000Z unsolicited\s+0\s+-\s+1 hop, 2 bad/,
    )
    t.match(text, /eth0\s+2001:db8:1::\/64\s+7000\s+0\s+deprecated/)
  },
)

t.test('the master-node example config is valid', async t => {
  const a = io()
  const file = new URL(
    '../../../examples/master-node/radvd-lite/radvd.conf',
    import.meta.url,
  ).pathname
  t.equal(
    await main(['node', 'radvd-lite', '-C', file, '-c'], a.io),
    0,
    a.err.join(''),
  )
})
