import t from 'tap'
import { connect } from 'node:net'
import { once } from 'node:events'
import {
  startControlServer,
  controlRequest,
  parseControlLine,
  formatControlAnswer,
  CONTROL_MAX_LINE,
} from '../src/control.js'

t.test('codec', async t => {
  t.same(parseControlLine('weight a b 3'), { command: 'weight', args: ['a', 'b', '3'] })
  t.equal(parseControlLine('  '), undefined)
  t.equal(parseControlLine('Bad!'), undefined)
  t.equal(formatControlAnswer({ ok: true, value: { a: 1 } }), 'OK {"a":1}\n')
  t.equal(formatControlAnswer({ ok: false, code: 'E', text: 'a\nb' }), 'ERR E a b\n')
})

t.test('TCP control: answers in order, errors coded, long lines refused', async t => {
  const srv = await startControlServer({
    address: '127.0.0.1:0',
    handlers: {
      slow: () => new Promise(r => setTimeout(() => r('slow'), 20)),
      fast: () => 'fast',
      fail: () => {
        throw Object.assign(new Error('nope'), { code: 'X_ERR_NOPE' })
      },
    },
  })
  t.teardown(() => srv.close())
  t.equal(await controlRequest(srv.address, 'fast'), 'fast')
  await t.rejects(controlRequest(srv.address, 'fail'), { code: 'X_ERR_NOPE', message: 'nope' })

  const [host, port] = srv.address.split(':')
  const s = connect(Number(port), host)
  await once(s, 'connect')
  s.write('slow\nfast\n')
  let got = ''
  s.on('data', c => (got += c.toString()))
  while (got.split('\n').length < 3) await once(s, 'data')
  t.equal(got, 'OK "slow"\nOK "fast"\n', 'answers keep request order')
  s.write('x'.repeat(CONTROL_MAX_LINE + 10) + '\n')
  await once(s, 'end')
  t.match(got, /ERR KIT_ERR_LINE_TOO_LONG/)
  s.destroy()

  await t.rejects(controlRequest('127.0.0.1:1', 'status', [], 1000), {
    code: 'KIT_ERR_CONTROL_UNREACHABLE',
  })
})
