// Reply lines as BIRD 2.0.12 writes them (captured from its control socket).
import t from 'tap'
import {
  BIRD_MAX_LINE,
  BirdReplyParser,
  BirdSyntaxError,
  formatCommand,
  parseProtocolRows,
  toggleOutcome,
} from '../src/bird-codec.js'

t.test('welcome, enable/disable answers and errors', async t => {
  const p = new BirdReplyParser()
  t.same(p.push('0001 BIRD 2.0.12 ready.\n'), [
    { code: 1, text: 'BIRD 2.0.12 ready.', lines: [] },
  ])
  const [en] = p.push('0011-vip4: enabled\n0000 \n')
  t.ok(en)
  if (!en) return
  t.equal(toggleOutcome(en, 'enable'), 'changed')
  const [again] = p.push('0010-vip4: already enabled\n0000 \n')
  t.equal(again && toggleOutcome(again, 'enable'), 'unchanged')
  const [dis] = p.push('0009-vip4: disabled\n0000 \n')
  t.equal(dis && toggleOutcome(dis, 'disable'), 'changed')
  const [none] = p.push('8003 No protocols match\n')
  t.match(none, { code: 8003, text: 'No protocols match' })
  t.equal(none && toggleOutcome(none, 'enable'), 'error')
  const [syntax] = p.push('9001 syntax error, unexpected CF_SYM_UNDEFINED\n')
  t.equal(syntax && toggleOutcome(syntax, 'disable'), 'error')
  t.equal(
    toggleOutcome({ code: 0, text: '', lines: [] }, 'enable'),
    'error',
    'an OK without the expected code is not taken as success',
  )
  // Regression: any of the four codes used to count for either command.
  const [other] = p.push('0009-vip4: disabled\n0000 \n')
  t.equal(
    other && toggleOutcome(other, 'enable'),
    'error',
    "disable's answer to an enable is not success",
  )
  const [otherAgain] = p.push('0010-vip4: already enabled\n0000 \n')
  t.equal(otherAgain && toggleOutcome(otherAgain, 'disable'), 'error')
})

t.test(
  'replies split anywhere across chunks; continuation lines; spontaneous lines ignored',
  async t => {
    const text =
      '2002-Name       Proto      Table      State  Since         Info\n' +
      '1002-vip4       Static     master4    up     12:00:49.998  \n' +
      '1006-  Channel ipv4\n     State:          UP\n \n+0000 spontaneous\n0000 \n'
    const p = new BirdReplyParser()
    const got = []
    for (const ch of text) got.push(...p.push(ch))
    t.equal(got.length, 1)
    const r = got[0]
    if (!r) return
    t.equal(r.code, 0)
    t.same(
      r.lines.map(l => l.code),
      [2002, 1002, 1006, 1006, 1006],
    )
    t.equal(r.lines[3]?.text, '    State:          UP')
    t.same(parseProtocolRows(r), [
      { name: 'vip4', proto: 'Static', table: 'master4', state: 'up' },
    ])
  },
)

t.test('garbage and over-long lines throw', async t => {
  t.throws(() => new BirdReplyParser().push('hello\n'), BirdSyntaxError)
  t.throws(
    () => new BirdReplyParser().push(' orphan continuation\n'),
    BirdSyntaxError,
  )
  t.throws(
    () => new BirdReplyParser().push('1'.repeat(BIRD_MAX_LINE + 1)),
    BirdSyntaxError,
  )
  // Regression: a whole over-long line in one chunk used to be accepted.
  const long = '0000 ' + 'x'.repeat(BIRD_MAX_LINE - 5)
  t.equal(new BirdReplyParser().push(`${long}\n`).length, 1, 'at the limit')
  t.throws(
    () => new BirdReplyParser().push(`${long}x\n`),
    BirdSyntaxError,
    'one past the limit, newline in the same chunk',
  )
})

t.test(
  'commands quote the protocol name and refuse anything that is not a symbol',
  async t => {
    t.equal(formatCommand('enable', 'vip4'), 'enable "vip4"\n')
    t.equal(
      formatCommand('show protocols', 'vip_6'),
      'show protocols "vip_6"\n',
    )
    t.throws(() => formatCommand('disable', 'x"\ndown'))
    t.throws(() => formatCommand('disable', ''))
  },
)
