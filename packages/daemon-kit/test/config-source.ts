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
