import t from 'tap'
import {
  formatServerLine,
  parseServerLine,
  parseClientLine,
  type ServerLine,
} from '../src/event-protocol.js'

t.test('server lines round-trip', async t => {
  const lines: ServerLine[] = [
    { type: 'hello', node: 'master1' },
    { type: 'node', node: 'master2', alive: false },
    { type: 'resource', group: 'master1', holder: null },
    { type: 'resource', group: 'master1', holder: 'master2' },
    { type: 'active', node: 'master2' },
    { type: 'active', node: null },
    { type: 'sync' },
    { type: 'pong' },
    { type: 'err', code: 'HB_ERR_EVENT_SYNTAX', text: 'bad client line' },
  ]
  for (const l of lines) {
    const text = formatServerLine(l)
    t.ok(text.endsWith('\n'))
    t.same(parseServerLine(text.slice(0, -1)), l, text.trim())
  }
  t.equal(formatServerLine({ type: 'hello', node: 'm' }), 'HELLO 1 m\n')
  t.equal(parseServerLine('NODE x maybe'), undefined)
})

// Issue 19 item 12: "ERR \n" parsed as an error with code "\n", and the
// encoder then wrote it out as two lines.
t.test('fields are checked against their grammar both ways', async t => {
  t.equal(
    parseServerLine('ERR \n'),
    undefined,
    'ERR with a line break for a code',
  )
  t.equal(parseServerLine('ERR '), undefined, 'ERR with an empty code')
  t.equal(parseServerLine('ERR HB_ERR_X a\rb'), undefined, 'CR in the text')
  t.equal(parseServerLine('NODE m\u00e9 alive'), undefined, 'non-ASCII name')
  t.equal(parseServerLine('SYNC\n'), undefined, 'a line keeps no LF')
  t.same(parseServerLine('ERR HB_ERR_EVENT_SYNTAX'), {
    type: 'err',
    code: 'HB_ERR_EVENT_SYNTAX',
    text: '',
  })
  const bad: ServerLine[] = [
    { type: 'err', code: '\n', text: '' },
    { type: 'err', code: 'HB_ERR_X', text: 'one\nNODE master1 dead' },
    { type: 'node', node: 'master1 dead\nNODE master2', alive: true },
    { type: 'resource', group: 'g', holder: 'a\r\nACTIVE none' },
    { type: 'active', node: '' },
    { type: 'hello', node: 'x'.repeat(64) },
  ]
  for (const l of bad)
    t.throws(() => formatServerLine(l), RangeError, JSON.stringify(l))
  // Whatever the encoder does emit is exactly one line that parses back.
  const ok = formatServerLine({ type: 'err', code: 'HB_ERR_X', text: 'a  b' })
  t.equal(ok.indexOf('\n'), ok.length - 1, 'one line')
  t.same(parseServerLine(ok.slice(0, -1)), {
    type: 'err',
    code: 'HB_ERR_X',
    text: 'a  b',
  })
})

// Issue 19, fuzz finding: parseServerLine took a 250-character ERR text
// that formatServerLine then refused. Whatever parses must format again.
t.test('parse accepts exactly what format emits', async t => {
  for (const n of [199, 200, 201, 250]) {
    const line = `ERR HB_ERR_X ${'a'.repeat(n)}`
    const l = parseServerLine(line)
    if (n <= 200) t.equal(l && formatServerLine(l), `${line}\n`, `text of ${n}`)
    else t.equal(l, undefined, `text of ${n} characters is refused`)
  }
  for (const line of [
    'ERR HB_ERR_X ',
    'ERR HB_ERR_X  x ',
    `ERR HB_ERR_X ${'b '.repeat(100)}`,
  ]) {
    const l = parseServerLine(line)
    t.doesNotThrow(() => l && formatServerLine(l), JSON.stringify(line))
  }
})

t.test('client lines', async t => {
  t.same(parseClientLine('PING'), { type: 'ping' })
  t.match(parseClientLine('HELLO'), {
    type: 'error',
    code: 'HB_ERR_EVENT_UNKNOWN',
  })
  t.match(parseClientLine('??'), { type: 'error', code: 'HB_ERR_EVENT_SYNTAX' })
})
