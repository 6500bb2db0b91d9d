import t from 'tap'
import { join } from 'node:path'
import { readFileSync, renameSync } from 'node:fs'
import { createErrorLogStream } from '../src/error-log.js'
import { createLogger } from '@has/daemon-kit'

t.test(
  'warn and worse go to the ErrorLog too; reopen follows logrotate',
  async t => {
    const dir = t.testdir({})
    const out: string[] = []
    const stream = createErrorLogStream(l => out.push(l))
    const file = join(dir, 'tcd.err')
    stream.reopen(file)
    t.equal(stream.path, file)
    const log = createLogger({ name: 'tc', destination: stream })
    log.info('fine')
    log.warn('careful')
    log.error('broken')
    t.equal(out.length, 3, 'stdout gets everything')
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l) as { msg: string })
    t.same(
      lines.map(l => l.msg),
      ['careful', 'broken'],
    )
    renameSync(file, `${file}.1`)
    stream.reopen(file)
    log.fatal('after rotate')
    t.match(readFileSync(file, 'utf8'), /after rotate/)
    stream.reopen(undefined)
    log.error('stdout only')
    t.notMatch(readFileSync(file, 'utf8'), /stdout only/)
    t.throws(() => stream.reopen(join(dir, 'no', 'such', 'dir')), {
      code: 'ENOENT',
    })
    stream.close()
  },
)
