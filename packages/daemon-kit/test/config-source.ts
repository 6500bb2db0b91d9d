import t from 'tap'
import {
  sourceLines,
  splitWords,
  IssueList,
  ConfigError,
  formatIssue,
  readConfigFile,
} from '../src/config-source.js'

t.test('sourceLines drops comments and blanks, keeps line numbers', async t => {
  const lines = sourceLines(
    '# head\n\nport 3400   # trailing\n  real=1.2.3.4:80 gate\nkey "a#b"\nx \\\n  y\n',
    'f.conf',
  )
  t.same(
    lines.map(l => [l.line, l.text, l.indent]),
    [
      [3, 'port 3400', 0],
      [4, 'real=1.2.3.4:80 gate', 2],
      [5, 'key "a#b"', 0],
      [6, 'x y', 0],
    ],
  )
})

t.test('splitWords honours quotes', async t => {
  t.same(splitWords('request "/a b.html" x'), ['request', '/a b.html', 'x'])
  t.same(splitWords('a "q\\"x"'), ['a', 'q"x'])
})

t.test('IssueList collects and throws one ConfigError', async t => {
  const issues = new IssueList()
  t.equal(issues.ok, true)
  issues.throwIfAny()
  issues.error({ file: 'a.conf', line: 7 }, 'bad port', '70000')
  issues.warn({ file: 'a.conf', line: 8 }, 'deprecated')
  t.equal(issues.ok, false)
  t.equal(formatIssue(issues.errors[0]!), 'a.conf:7: bad port (got "70000")')
  let caught: unknown
  try {
    issues.throwIfAny()
  } catch (e) {
    caught = e
  }
  t.ok(caught instanceof ConfigError, 'throws a ConfigError')
  t.match(caught, { exitCode: 3, message: /a\.conf:7/ })
})

t.test('readConfigFile names the missing file, exit 3', async t => {
  await t.rejects(readConfigFile('/nonexistent/x.conf'), {
    code: 'KIT_ERR_CONFIG_UNREADABLE',
    exitCode: 3,
    message: /nonexistent\/x\.conf: ENOENT/,
  })
})

// Issue 19.10: both inputs took seconds before (quadratic joining of
// continuation lines; `/\s*\\\s*$/` backtracking on a long white-space run).
// Linear now: a few tens of ms. The bound is generous on purpose; the old
// code needs well over it on these inputs (measured 5 s and 16 s).
t.test('sourceLines is linear on hostile input', async t => {
  const cases: [string, string][] = [
    ['40,000 continuation lines (160 kB)', 'a \\\n'.repeat(40_000) + 'b\n'],
    [
      '160 kB white space before a continued line',
      'x' + ' '.repeat(160_000) + 'y\\\nz\n',
    ],
  ]
  for (const [name, input] of cases) {
    const t0 = performance.now()
    const lines = sourceLines(input, 'big.conf', { maxLineLength: Infinity })
    const ms = performance.now() - t0
    t.equal(lines.length, 1, `${name}: one logical line`)
    t.ok(ms < 2000, `${name}: parsed in ${Math.round(ms)} ms (bound 2000 ms)`)
  }
})

t.test('sourceLines refuses over-long lines with file:line', async t => {
  const long = 'k ' + 'v'.repeat(100)
  t.throws(
    () => sourceLines(`a 1\n${long}\nb 2\n`, 'x.conf', { maxLineLength: 50 }),
    {
      code: 'KIT_ERR_CONFIG_INVALID',
      message: /x\.conf:2: line longer than 50 characters/,
    },
  )
  t.throws(
    () =>
      sourceLines(`a 1\nk \\\n${'v'.repeat(60)}\n`, 'x.conf', {
        maxLineLength: 50,
      }),
    {
      message: /x\.conf:2: line longer than 50/,
    },
    'a logical line joined from continuations counts as a whole',
  )
  const issues = new IssueList()
  const lines = sourceLines(`a 1\n${long} \\\n more\nb 2\n`, 'x.conf', {
    maxLineLength: 50,
    issues,
  })
  t.same(
    lines.map(l => [l.line, l.text]),
    [
      [1, 'a 1'],
      [4, 'b 2'],
    ],
    'skipped, later line numbers right',
  )
  t.same(issues.errors.map(formatIssue), [
    'x.conf:2: line longer than 50 characters',
  ])
  t.equal(
    sourceLines('z'.repeat(8192), 'x.conf').length,
    1,
    'the default limit allows 8192',
  )
})

t.test('sourceLines continuation details kept', async t => {
  t.same(
    sourceLines('a \\  \r\n\t b\r\nc \\', 'f').map(l => [l.line, l.text]),
    [
      [1, 'a b'],
      [3, 'c \\'],
    ],
  )
})
