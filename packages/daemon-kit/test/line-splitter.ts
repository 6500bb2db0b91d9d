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
