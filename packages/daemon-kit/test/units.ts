import t from 'tap'
import {
  parseDuration,
  parseIntRange,
  parseBool,
  parseHostPort,
  formatHostPort,
  parseNumberRange,
} from '../src/units.js'

t.test('parseDuration', async t => {
  const cases: [string, 'ms' | 's', number | undefined][] = [
    ['200ms', 's', 200],
    ['2', 's', 2000],
    ['2', 'ms', 2],
    ['1.5s', 'ms', 1500],
    ['3m', 's', 180_000],
    ['-1', 's', undefined],
    ['5 parsecs', 's', undefined],
    ['', 's', undefined],
  ]
  for (const [text, unit, want] of cases)
    t.equal(parseDuration(text, unit), want, text)
})

t.test('numbers and booleans', async t => {
  t.equal(parseIntRange('42', 0, 100), 42)
  t.equal(parseIntRange('101', 0, 100), undefined)
  t.equal(parseIntRange('4.2'), undefined)
  t.equal(parseNumberRange('0.5', 0, 1), 0.5)
  t.equal(parseNumberRange('x'), undefined)
  t.equal(parseBool('On'), true)
  t.equal(parseBool('no'), false)
  t.equal(parseBool('maybe'), undefined)
})

t.test('parseHostPort', async t => {
  t.same(parseHostPort('10.0.0.1:80'), { host: '10.0.0.1', port: 80 })
  t.same(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 })
  t.same(parseHostPort('::1', 53), { host: '::1', port: 53 })
  t.same(parseHostPort('web1', 80), { host: 'web1', port: 80 })
  t.equal(parseHostPort('web1'), undefined)
  t.equal(parseHostPort('1.2.3.4:99999'), undefined)
  t.equal(parseHostPort('[zz]:1'), undefined)
  t.equal(formatHostPort({ host: '::1', port: 1 }), '[::1]:1')
})
