import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  formatReport,
  parseReport,
  verifyReport,
  type LoadReport,
} from '../src/report-protocol.js'

const KEY = 'example-shared-key'

t.test('the PROTOCOL.md wire example parses, verifies and round-trips', t => {
  const lines = readFileSync(
    new URL('./fixtures/wire/report.txt', import.meta.url),
    'utf8',
  )
    .split('\n')
    .filter(l => l && !l.startsWith('#'))
  for (const line of lines) {
    const p = parseReport(line)
    t.ok(p.ok)
    if (!p.ok) continue
    t.ok(verifyReport(p, KEY))
    t.notOk(verifyReport(p, 'another-key-another'))
    t.equal(formatReport(p.report, KEY), line, 'format(parse(x)) == x')
  }
  t.end()
})

t.test('format then parse gives the report back (IPv6, states, no key)', t => {
  const cases: LoadReport[] = [
    {
      node: '2001:db8::10',
      load: 0,
      state: 'drain',
      sender: 'ld',
      epoch: 1,
      seq: 1,
    },
    {
      node: '10.0.0.1',
      load: 999999,
      state: 'down',
      sender: 'tc',
      epoch: 2,
      seq: 3,
      ext: { a: 'b' },
    },
  ]
  for (const r of cases) {
    const p = parseReport(formatReport(r))
    t.same(p.ok && p.report, r)
  }
  t.end()
})
