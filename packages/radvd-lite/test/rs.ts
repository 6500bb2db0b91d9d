import t from 'tap'
import { checkRs } from '../src/rs.js'

const LL = 'fe80::1'
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')

t.test('valid solicitations', async t => {
  t.same(checkRs(hex('85000000 00000000'), LL, 255), { ok: true })
  t.same(
    checkRs(hex('85000000 00000000'), '::', 255),
    { ok: true },
    'from :: without SLLA',
  )
  t.same(checkRs(hex('85000000 00000000 0101 020000000001'), LL, 255), {
    ok: true,
    sourceLL: '02:00:00:00:00:01',
  })
  t.same(
    checkRs(hex('85000000 00000000 c801 000000000000'), LL, 255),
    { ok: true },
    'unknown option skipped',
  )
})

t.test('rejections', async t => {
  const cases: [string, Buffer, string, number, string, RegExp][] = [
    [
      'hop limit 64',
      hex('85000000 00000000'),
      LL,
      64,
      'hoplimit',
      /hop limit 64/,
    ],
    [
      'no hop limit cmsg',
      hex('85000000 00000000'),
      LL,
      -1,
      'hoplimit',
      /hop limit -1/,
    ],
    ['short', hex('85000000'), LL, 255, 'malformed', /4 bytes/],
    ['type', hex('86000000 00000000'), LL, 255, 'malformed', /type 134/],
    ['code', hex('85010000 00000000'), LL, 255, 'malformed', /code 1/],
    [
      'zero option',
      hex('85000000 00000000 0100 000000000000'),
      LL,
      255,
      'malformed',
      /length 0/,
    ],
    [
      'overrun',
      hex('85000000 00000000 0102 000000000000'),
      LL,
      255,
      'malformed',
      /overruns/,
    ],
    [
      'truncated',
      hex('85000000 00000000 01'),
      LL,
      255,
      'malformed',
      /truncated/,
    ],
    [
      'SLLA from ::',
      hex('85000000 00000000 0101 020000000001'),
      '::',
      255,
      'malformed',
      /unspecified/,
    ],
  ]
  for (const [what, data, src, hop, reason, re] of cases) {
    const v = checkRs(data, src, hop)
    t.equal(v.ok, false, what)
    if (!v.ok) {
      t.equal(v.reason, reason, what)
      t.match(v.detail, re, what)
    }
  }
})
