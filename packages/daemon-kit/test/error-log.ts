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

t.test(
  'by default every line reaches stdout, also right before exit',
  async t => {
    const { execFile } = await import('node:child_process')
    const url = new URL('../dist/error-log.js', import.meta.url).href
    // 2,000 lines then an immediate exit: none may wait in a queue.
    const code = `import(${JSON.stringify(url)}).then(({ createErrorLogStream }) => {
    const s = createErrorLogStream()
    for (let i = 0; i < 2000; i++) s.write('{"level":30,"n":' + i + '}\\n')
    process.exit(0)
  })`
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['-e', code],
        { maxBuffer: 1 << 24, timeout: 20_000 },
        (err, out) => (err ? reject(err) : resolve(out)),
      ),
    )
    const lines = stdout.trim().split('\n')
    t.equal(lines.length, 2000)
    t.equal(lines.at(-1), '{"level":30,"n":1999}')
  },
)
