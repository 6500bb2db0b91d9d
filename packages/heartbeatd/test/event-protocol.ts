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

t.test('client lines', async t => {
  t.same(parseClientLine('PING'), { type: 'ping' })
  t.match(parseClientLine('HELLO'), {
    type: 'error',
    code: 'HB_ERR_EVENT_UNKNOWN',
  })
  t.match(parseClientLine('??'), { type: 'error', code: 'HB_ERR_EVENT_SYNTAX' })
})
