import t from 'tap'
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../src/logger.js'
import { createDropLog } from '../src/drop-log.js'

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

function manualTimers(): {
  fire(): void
  pending(): number
  setTimer: (fn: () => void) => { unref(): void }
  clearTimer: (t: unknown) => void
} {
  const timers = new Set<{ fn: () => void; unref(): void }>()
  return {
    setTimer: fn => {
      const h = { fn, unref() {} }
      timers.add(h)
      return h
    },
    clearTimer: h => {
      timers.delete(h as { fn: () => void; unref(): void })
    },
    fire() {
      const all = [...timers]
      timers.clear()
      for (const h of all) h.fn()
    },
    pending: () => timers.size,
  }
}

const flushed = (): Promise<void> => new Promise(r => setImmediate(r))

t.test(
  'first drop is logged at once, the rest summed per period with the top source',
  async t => {
    const { log, lines } = sink()
    const timers = manualTimers()
    const d = createDropLog(log, {
      what: 'load reports',
      intervalMs: 10_000,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
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
    timers.fire()
    await flushed()
    t.equal(lines.length, 2)
    t.same(lines[1]?.dropped, { replay: 250, mac: 750 })
    t.equal(lines[1]?.total, 1000)
    t.equal(lines[1]?.topSource, 'a')
    t.equal(lines[1]?.topSourceCount, 900)
    t.equal(lines[1]?.sources, 2)
    t.match(lines[1]?.msg, /load reports: dropped 1000/)
    t.equal(timers.pending(), 1, 'still armed after a busy period')
    timers.fire()
    await flushed()
    t.equal(lines.length, 2, 'a quiet period logs nothing')
    t.equal(timers.pending(), 0, 'and disarms')
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
    const timers = manualTimers()
    const d = createDropLog(log, {
      what: 'x',
      maxSources: 2,
      setTimer: timers.setTimer,
      clearTimer: timers.clearTimer,
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
    t.equal(timers.pending(), 0, 'flush disarms')
  },
)
