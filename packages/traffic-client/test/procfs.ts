import t from 'tap'
import { join } from 'node:path'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import {
  parseCpuinfo,
  parseMeminfo,
  parseStat,
  procfsReaders,
} from '../src/procfs.js'
import { writeProcfsFixture } from '../src/procfs-fixture.js'
import { LoadSampler } from '../src/load-index.js'

t.test('cpuinfo: x86, arm64 and one-line arm32', async t => {
  t.same(
    parseCpuinfo(
      'processor\t: 0\nbogomips\t: 4800.00\n\nprocessor\t: 1\nbogomips\t: 4800.00\n',
    ),
    { bogomips: [4800, 4800], cpus: 2 },
  )
  t.same(
    parseCpuinfo('processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n'),
    { bogomips: [50], cpus: 1 },
  )
  t.same(
    parseCpuinfo(
      'processor : 0\nprocessor : 1\nmodel name : ARMv7\nBogoMIPS : 38.40\n',
    ),
    { bogomips: [38.4], cpus: 2 },
  )
  t.same(parseCpuinfo(''), { bogomips: [], cpus: 1 })
})

t.test('meminfo: MemAvailable, or the pre-3.14 estimate', async t => {
  t.same(
    parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n'),
    { totalKB: 1000, freeKB: 100, availableKB: 600 },
  )
  // Figure 58 of the thesis (kernel 2.6, no MemAvailable).
  t.same(
    parseMeminfo(
      'MemTotal:      775116 kB\nMemFree:       6880 kB\nBuffers:       98748 kB\nCached:        305572 kB\n',
    ),
    {
      totalKB: 775116,
      freeKB: 6880,
      availableKB: 6880 + 98748 + 305572,
    },
  )
  t.same(parseMeminfo('MemTotal: 1 kB\n'), { missing: 'MemFree' })
})

t.test(
  'stat: the aggregate cpu line; guest time is not counted twice',
  async t => {
    t.same(
      parseStat('cpu  10 1 2 100 5 1 1 0 7 0\ncpu0 10 1 2 100 5 1 1 0 7 0\n'),
      { idle: 105, total: 120 },
    )
    t.same(parseStat('cpu  1 2 3 4\n'), { idle: 4, total: 10 })
    t.equal(parseStat('cpu0 1 2 3 4\n'), undefined)
    t.equal(parseStat('cpu  1 2\n'), undefined)
  },
)

t.test('writeProcfsFixture: a tree the sampler reads back', async t => {
  const dir = join(t.testdir(), 'node1')
  writeProcfsFixture(dir, {
    bogomips: 3358.72,
    cpus: 2,
    memTotalMB: 1024,
    memFreeMB: 512,
    idleShare: 0.75,
  })
  t.match(readFileSync(join(dir, 'cpuinfo'), 'utf8'), /bogomips\t: 3358\.72/)
  const sampler = new LoadSampler(procfsReaders(dir), {
    formula: 'live',
    capacity: 'auto',
    scale: 1,
    memHeadroom: 0.2,
  })
  const a = await sampler.sample()
  t.equal(a.capacity, 6717.44)
  t.equal(a.idleShare, 0.75)
  t.equal(a.memAvailableMB, 512)
  t.equal(a.load, Math.round(6717.44 * 0.75))
  // Rewriting changes what the next sample sees (the demo makes a node busy).
  writeProcfsFixture(dir, {
    bogomips: 3358.72,
    cpus: 2,
    memTotalMB: 1024,
    memFreeMB: 512,
    idleShare: 0.25,
  })
  t.equal((await sampler.sample()).load, Math.round(6717.44 * 0.25))
  const thesis = new LoadSampler(procfsReaders(dir), {
    formula: 'thesis',
    ramMB: 256,
    capacity: 'auto',
    scale: 1,
    memHeadroom: 0,
  })
  t.equal((await thesis.sample()).load, 6717)
  t.throws(
    () =>
      writeProcfsFixture(dir, {
        bogomips: 1,
        cpus: 0,
        memTotalMB: 1,
        memFreeMB: 1,
        idleShare: 1,
      }),
    RangeError,
  )
})

t.test('a missing file is TC_ERR_PROCFS_READ naming the path', async t => {
  const dir = t.testdir({})
  await t.rejects(procfsReaders(dir).meminfo(), {
    code: 'TC_ERR_PROCFS_READ',
    message: new RegExp(`${dir}/meminfo: ENOENT`),
  })
})

t.test('the real /proc parses', async t => {
  const r = procfsReaders('/proc')
  t.ok(parseStat(await r.stat()))
  t.notOk('missing' in parseMeminfo(await r.meminfo()))
})

// Each report read /proc/stat and /proc/meminfo through the thread pool
// (open, stat, read, close: four wake-ups each). A real procfs file is now
// kept open and read again from offset 0; the kernel regenerates it.
t.test('a real /proc file stays open and reads fresh each time', async t => {
  const r = procfsReaders('/proc')
  const statFds = (): number =>
    readdirSync('/proc/self/fd').filter(fd => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === '/proc/stat'
      } catch {
        return false
      }
    }).length
  const before = statFds()
  const first = parseStat(await r.stat())
  // Burn a little CPU so the counters move between the two reads.
  const until = Date.now() + 50
  while (Date.now() < until) Math.sqrt(Math.random())
  const second = parseStat(await r.stat())
  t.equal(statFds(), before + 1, 'one descriptor, kept between reads')
  t.ok(
    first && second && second.total > first.total,
    'the second read is fresh',
  )
})

t.test('a fixture file replaced by rename is read anew', async t => {
  const dir = t.testdir({})
  const base = { bogomips: 4000, cpus: 2, memTotalMB: 2048, idleShare: 0.5 }
  writeProcfsFixture(dir, { ...base, memFreeMB: 1000 })
  const r = procfsReaders(dir)
  const a = parseMeminfo(await r.meminfo())
  writeProcfsFixture(dir, { ...base, memFreeMB: 500 })
  const b = parseMeminfo(await r.meminfo())
  t.ok(!('missing' in a) && !('missing' in b) && a.freeKB !== b.freeKB)
})
