import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { main, formatStatus } from '../src/cli.js'
import type { TrafficClientStatus } from '../src/client.js'

function io() {
  const o = { out: '', err: '' }
  return {
    o,
    io: {
      out: (s: string) => void (o.out += s),
      err: (s: string) => void (o.err += s),
    },
  }
}

t.test(
  '--check-config: 0 for a good file, 3 with file:line for a bad one',
  async t => {
    const dir = t.testdir({
      'good.conf': 'master1 127.0.0.1\nnode 127.0.0.1\n',
      'bad.conf': 'master1 127.0.0.1\nnode 127.0.0.1\nRAM lots\n',
    })
    const a = io()
    t.equal(
      await main(['node', 'tc', '-t', '-c', join(dir, 'good.conf')], a.io),
      0,
    )
    t.match(a.o.out, 'good.conf: configuration OK')
    const b = io()
    t.equal(
      await main(
        ['node', 'tc', '--check-config', '-c', join(dir, 'bad.conf')],
        b.io,
      ),
      3,
    )
    t.match(
      b.o.err,
      `${join(dir, 'bad.conf')}:3: RAM must be a whole number of MB, 1..16777216 (got "lots")`,
    )
  },
)

t.test('usage errors exit 2; --help and --version exit 0', async t => {
  t.equal(await main(['node', 'tc', '--nope'], io().io), 2)
  t.equal(await main(['node', 'tc', 'pause', 'extra'], io().io), 2)
  const h = io()
  t.equal(await main(['node', 'tc', '--help'], h.io), 0)
  t.match(h.o.out, /pause/)
  t.equal(await main(['node', 'tc', '-V'], io().io), 0)
})

t.test(
  'control commands without a daemon: exit 1 with the kit code',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'tcc-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const r = io()
    t.equal(
      await main(
        ['node', 'tc', 'drain', '--control', join(dir, 'x.sock')],
        r.io,
      ),
      1,
    )
    t.match(r.o.err, /KIT_ERR_CONTROL_UNREACHABLE/)
    // --control before the subcommand is honoured, not silently replaced
    // by the default socket.
    for (const argv of [
      ['--control', join(dir, 'y.sock'), 'pause'],
      ['--control', join(dir, 'y.sock'), 'status', '--json'],
    ]) {
      const b = io()
      t.equal(await main(['node', 'tc', ...argv], b.io), 1)
      t.match(b.o.err, /KIT_ERR_CONTROL_UNREACHABLE: .*y\.sock/, argv.join(' '))
    }
  },
)

t.test(
  'a missing procfs fails the start with exit 1; warnings on --check-config',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'tcc-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const { writeFileSync } = await import('node:fs')
    writeFileSync(
      join(dir, 'tcd.conf'),
      'master1 127.0.0.1\nnode 127.0.0.1\nprocfs nowhere\nmaster2 127.0.0.1\n',
    )
    const r = io()
    t.equal(
      await main(
        [
          'node',
          'tc',
          '-c',
          join(dir, 'tcd.conf'),
          '--control',
          join(dir, 'c.sock'),
          '--log-level',
          'silent',
        ],
        r.io,
      ),
      1,
    )
    t.match(
      r.o.err,
      /TC_ERR_PROCFS_READ: cannot read .*nowhere\/cpuinfo: ENOENT/,
    )
    const w = io()
    t.equal(
      await main(['node', 'tc', '-t', '-c', join(dir, 'tcd.conf')], w.io),
      0,
    )
    t.match(w.o.err, /warning: .*tcd\.conf:4: same master as line 1/)
    const m = io()
    t.equal(
      await main(['node', 'tc', '-t', '-c', join(dir, 'none.conf')], m.io),
      3,
    )
    t.match(m.o.err, /cannot read .*none\.conf: ENOENT/)
  },
)

t.test('status text', async t => {
  const s: TrafficClientStatus = {
    node: '10.0.0.5',
    nodes: ['10.0.0.5', '2001:db8::5'],
    formula: 'live',
    flag: 'drain',
    epoch: 1,
    seq: 9,
    rounds: 5,
    updatesMs: 1000,
    signed: false,
    load: null,
    lastSent: null,
    lastError: 'cannot read /x',
    masters: [
      {
        name: 'master1',
        address: '10.0.0.1:7070',
        sent: 4,
        errors: 1,
        lastError: 'EHOSTUNREACH',
        lastSent: null,
      },
    ],
    agent: null,
  }
  const text = formatStatus(s)
  t.match(
    text,
    'node 10.0.0.5 2001:db8::5  flag drain  formula live  load not computed yet',
  )
  t.match(text, 'UNSIGNED')
  t.match(text, 'last error: cannot read /x')
  t.match(text, /master1 +10\.0\.0\.1:7070 +4 +1 +- +EHOSTUNREACH/)
})
