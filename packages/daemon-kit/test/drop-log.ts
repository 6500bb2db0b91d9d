import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../src/logger.js'
import { createDropLog } from '../src/drop-log.js'
import { ManualClock } from '@has/test-support'

interface Line {
  level: number
  msg: string
  reason?: string
  source?: string
  dropped?: Record<string, number>
  total?: number
  topSource?: string
  topSourceCount?: number
  sources?: number
}

function sink(): { log: Logger; lines: Line[] } {
  const lines: Line[] = []
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Line)
      cb()
    },
  })
  return { log: createLogger({ name: 'test', destination: dest }), lines }
}

const flushed = (): Promise<void> => new Promise(r => setImmediate(r))

t.test(
  'first drop is logged at once, the rest summed per period with the top source',
  async t => {
    const { log, lines } = sink()
    const clock = new ManualClock()
    const d = createDropLog(log, {
      what: 'load reports',
      intervalMs: 10_000,
      clock,
    })
    d.drop('mac', '10.0.0.1:9')
    await flushed()
    t.equal(lines.length, 1)
    t.equal(lines[0]?.level, 40, 'warn')
    t.equal(lines[0]?.reason, 'mac')
    t.equal(lines[0]?.source, '10.0.0.1:9')
    for (let i = 0; i < 1000; i++)
      d.drop(i % 4 === 0 ? 'replay' : 'mac', i % 10 === 0 ? 'b' : 'a')
    await flushed()
    t.equal(lines.length, 1, 'a flood adds no line before the period ends')
    clock.advance(10_000)
    await flushed()
    t.equal(lines.length, 2)
    t.same(lines[1]?.dropped, { replay: 250, mac: 750 })
    t.equal(lines[1]?.total, 1000)
    t.equal(lines[1]?.topSource, 'a')
    t.equal(lines[1]?.topSourceCount, 900)
    t.equal(lines[1]?.sources, 2)
    t.match(lines[1]?.msg, /load reports: dropped 1000/)
    t.equal(clock.pending, 1, 'still armed after a busy period')
    clock.advance(10_000)
    await flushed()
    t.equal(lines.length, 2, 'a quiet period logs nothing')
    t.equal(clock.pending, 0, 'and disarms')
    d.drop('syntax', 'c')
    await flushed()
    t.equal(
      lines.length,
      3,
      'the next drop after quiet is logged at once again',
    )
    d.close()
  },
)

t.test(
  'sources beyond the cap count as other; hostile keys are plain data',
  async t => {
    const { log, lines } = sink()
    const clock = new ManualClock()
    const d = createDropLog(log, {
      what: 'x',
      maxSources: 2,
      clock,
    })
    d.drop('r', 's0')
    for (const s of ['__proto__', 'constructor', 'z', 'y', 'constructor'])
      d.drop('__proto__', s)
    d.flush()
    await flushed()
    const last = lines.at(-1)
    t.equal(last?.total, 5)
    t.equal(last?.sources, 3, '__proto__, constructor, other')
    t.equal(last?.topSource, 'constructor')
    t.equal(last?.dropped?.['__proto__'], 5)
    t.equal(clock.pending, 0, 'flush disarms')
  },
)
