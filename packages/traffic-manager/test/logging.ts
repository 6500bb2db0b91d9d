import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDaemonLogger } from '../src/logging.js'

t.test('ErrorLog gets warnings and errors only, as JSON lines', async t => {
  const file = join(t.testdir({}), 'sub', 'tmd.log')
  const log = createDaemonLogger('info', file)
  // Keep stdout quiet in the test output: only the file is asserted.
  log.warn({ node: '10.0.0.1' }, 'node silent past timeout; removed')
  log.error('boom')
  log.info('not in the error log')
  await new Promise(r => setTimeout(r, 50))
  await new Promise<void>(r => log.flush(() => r()))
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { msg: string; level: number })
  t.same(
    lines.map(l => l.msg),
    ['node silent past timeout; removed', 'boom'],
  )
})

t.test('without ErrorLog, a plain logger', t => {
  t.ok(createDaemonLogger('silent'))
  t.end()
})
