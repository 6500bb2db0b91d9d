import t from 'tap'
import { join } from 'node:path'
import { formatStatus, main } from '../src/cli.js'

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

t.test('exit statuses: version 0, usage 2, invalid config 3', async t => {
  const v = io()
  t.equal(await main(['node', 'ldirectord', '--version'], v.io), 0)
  t.match(v.out.join(''), /^\d+\.\d+\.\d+/)
  const u = io()
  t.equal(await main(['node', 'ldirectord', '--frobnicate'], u.io), 2)
  const dir = t.testdir({
    'bad.cf':
      'virtual = 1.2.3.4:80\n  real = 1.2.3.5 gate\n  checktype = magic\n',
  })
  const c = io()
  t.equal(
    await main(['node', 'ldirectord', '-t', '-c', join(dir, 'bad.cf')], c.io),
    3,
  )
  t.match(c.err.join(''), `${join(dir, 'bad.cf')}:3: checktype must be`)
  const ok = io()
  t.equal(
    await main(
      [
        'node',
        'ldirectord',
        '-t',
        '-c',
        join(import.meta.dirname, 'fixtures', 'thesis-3.19.1.cf'),
      ],
      ok.io,
    ),
    0,
  )
  const s = io()
  t.equal(
    await main(
      ['node', 'ldirectord', 'status', '--control', join(dir, 'none.sock')],
      s.io,
    ),
    1,
  )
  t.match(s.err.join(''), 'KIT_ERR_CONTROL_UNREACHABLE')
})

t.test('status text', async t => {
  const text = formatStatus({
    mode: 'director',
    virtuals: [
      {
        name: '10.0.0.1:80',
        checktype: 'negotiate',
        service: 'http',
        scheduler: 'rr',
        reals: [
          {
            real: '10.0.0.2:80',
            status: 'down',
            failures: 3,
            result: 'fail',
            reason: 'connect failed: ECONNREFUSED',
            lastCheck: '2026-01-01T00:00:00.000Z',
            since: null,
          },
          {
            real: '10.0.0.3:80',
            status: 'unknown',
            failures: 0,
            result: null,
            reason: null,
            lastCheck: null,
            since: null,
          },
        ],
      },
    ],
    actions: {},
  })
  t.match(
    text,
    /^mode: director\n\n10\.0\.0\.1:80 {2}checktype=negotiate service=http scheduler=rr\nREAL +STATUS +FAILURES +LAST +CHECKED +REASON\n/,
  )
  t.match(
    text,
    /10\.0\.0\.2:80 +down +3 +fail +2026-01-01T00:00:00\.000Z +connect failed: ECONNREFUSED\n/,
  )
  t.match(text, /10\.0\.0\.3:80 +unknown +0 +- +- +-\n/)
})
