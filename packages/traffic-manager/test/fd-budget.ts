// Descriptor accounting of the proxy: at the limit libuv resets new
// connections without telling the listener, so the proxy's own count is
// what lets it warn and then say that connections are being reset.
import t from 'tap'
import { ManualClock, captureLogger } from '@has/test-support'
import {
  FdBudget,
  REPORT_EVERY_MS,
  parseNofileLimit,
} from '../src/fd-budget.js'

t.test('the soft limit is read from /proc/PID/limits', async t => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units',
    'Max processes             95339                95339                processes',
    'Max open files            1024                 524288               files',
    'Max locked memory         8388608              8388608              bytes',
  ].join('\n')
  t.equal(parseNofileLimit(limits), 1024)
  t.equal(
    parseNofileLimit(limits.replace(/1024 {16}/, 'unlimited            ')),
    Infinity,
  )
  t.equal(parseNofileLimit(''), Infinity)
})

t.test(
  'a warning near the limit, an error at it, each once per period',
  async t => {
    const clock = new ManualClock()
    const { logger, lines } = captureLogger('tm')
    // 100 descriptors, 20 before any connection: the 35th connection
    // reaches 90 (90 %), the 40th 100 (no room for two more).
    const b = new FdBudget(100, 20, clock)
    for (let i = 0; i < 34; i++) b.opened(logger)
    t.same(lines, [], 'quiet under 90 %')
    b.opened(logger)
    t.match(lines, [
      {
        level: 40,
        open: 35,
        used: 90,
        limit: 100,
        msg: /near its descriptor limit/,
      },
    ])
    for (let i = 0; i < 5; i++) b.opened(logger)
    t.equal(lines.length, 2, 'the warning is not repeated within the period')
    t.match(lines[1], {
      level: 50,
      open: 40,
      used: 100,
      msg: /descriptor limit reached: new connections are reset/,
    })
    b.opened(logger)
    t.equal(lines.length, 2, 'nor the error')
    clock.advance(REPORT_EVERY_MS)
    b.opened(logger)
    t.equal(lines.length, 3, 'a period later the error comes again')
    t.match(lines[2], { level: 50, open: 42 })
    for (let i = 0; i < 42; i++) b.closed()
    b.closed()
    t.equal(b.open, 0, 'never below zero')
    t.equal(b.used, 20)
  },
)

t.test('no limit, no word', async t => {
  const { logger, lines } = captureLogger('tm')
  const b = new FdBudget(Infinity, 20, new ManualClock())
  for (let i = 0; i < 10_000; i++) b.opened(logger)
  t.same(lines, [])
})
