import t from 'tap'
import { LineSplitter } from '../src/line-splitter.js'

t.test('splits CRLF and LF across chunks, bounds length', async t => {
  const lines: string[] = []
  let overflows = 0
  const s = new LineSplitter(
    8,
    l => lines.push(l),
    () => overflows++,
  )
  s.push('ab')
  s.push('c\r\nde\nf')
  t.same(lines, ['abc', 'de'])
  t.equal(s.pending, 1)
  s.push('123456789012\nok\n')
  t.equal(overflows, 1)
  t.same(lines, ['abc', 'de', 'ok'])
})

// Regression: each chunk was decoded on its own, so a character whose
// UTF-8 bytes straddled two reads became two U+FFFD.
t.test('a UTF-8 character split across chunks arrives whole', async t => {
  const lines: string[] = []
  const s = new LineSplitter(
    64,
    l => lines.push(l),
    () => t.fail('overflow'),
  )
  const bytes = Buffer.from('café ✓\n', 'utf8')
  for (const b of bytes) s.push(Buffer.from([b]))
  t.same(lines, ['café ✓'])
})
