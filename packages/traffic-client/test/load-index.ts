import t from 'tap'
import {
  thesisLoad,
  liveLoad,
  idleShare,
  memFactor,
  LoadSampler,
  type LoadOptions,
} from '../src/load-index.js'
import type { ProcfsReaders } from '../src/procfs.js'

// Figure 57's cpuinfo with the worked example's BogoMIPS (3.22.6).
const CPUINFO = `processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Pentium(R) M processor 1.70GHz
cpu MHz\t\t: 598.186
bogomips\t: 3358.72
`
const meminfo = (
  freeKB: number,
  totalKB = 748 * 1024,
  availKB = freeKB,
): string =>
  `MemTotal:       ${totalKB} kB\nMemFree:        ${freeKB} kB\nMemAvailable:   ${availKB} kB\nBuffers:  0 kB\n`
const stat = (busy: number, idle: number): string =>
  `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0\ncpu0 ${busy} 0 0 ${idle} 0 0 0 0 0 0\n`

function readers(files: {
  cpuinfo?: string
  meminfo: string[]
  stat: string[]
}): ProcfsReaders & { cpuinfoReads: number } {
  let m = 0
  let s = 0
  const r = {
    cpuinfoReads: 0,
    where: '/fake',
    cpuinfo: async () => {
      r.cpuinfoReads++
      return files.cpuinfo ?? CPUINFO
    },
    meminfo: async () =>
      files.meminfo[Math.min(m++, files.meminfo.length - 1)] as string,
    stat: async () =>
      files.stat[Math.min(s++, files.stat.length - 1)] as string,
  }
  return r
}

const THESIS: LoadOptions = {
  formula: 'thesis',
  ramMB: 256,
  capacity: 'auto',
  scale: 1,
  memHeadroom: 0.2,
}
const LIVE: LoadOptions = {
  formula: 'live',
  capacity: 'auto',
  scale: 1,
  memHeadroom: 0.2,
}

t.test(
  'thesis worked example: 3358.72 BogoMIPS, 512 MB free, RAM_x 256 MB ~ 6717',
  async t => {
    t.equal(Math.round(thesisLoad(3358.72, 512, 256)), 6717)
    // The thesis writes it in kB: 3358.72 x 524288 / 262144.
    t.equal(Math.round(thesisLoad(3358.72, 524288, 262144)), 6717)
    const r = readers({ meminfo: [meminfo(512 * 1024)], stat: [stat(50, 50)] })
    const s = await new LoadSampler(r, THESIS).sample()
    t.equal(s.load, 6717, 'the sampler reports the same from /proc text')
    t.equal(s.formula, 'thesis')
    t.equal(s.bogomips, 3358.72)
    t.equal(
      s.percent,
      Math.round((100 * 512) / 748),
      'agent share = MemFree / MemTotal',
    )
  },
)

t.test(
  'thesis uses the first CPU only; cpuinfo is read once, meminfo every time',
  async t => {
    const two = CPUINFO + '\nprocessor\t: 1\nbogomips\t: 9999.00\n'
    const r = readers({
      cpuinfo: two,
      meminfo: [meminfo(512 * 1024), meminfo(256 * 1024)],
      stat: [stat(1, 1)],
    })
    const sampler = new LoadSampler(r, THESIS)
    t.equal((await sampler.sample()).load, 6717)
    t.equal(
      (await sampler.sample()).load,
      3359,
      'free RAM halved, index halved',
    )
    t.equal(r.cpuinfoReads, 1)
  },
)

t.test('live: capacity x idle share (deltas) x memory factor', async t => {
  const two = CPUINFO + '\nprocessor\t: 1\nbogomips\t: 3358.72\n'
  const r = readers({
    cpuinfo: two,
    meminfo: [meminfo(512 * 1024)],
    // since boot 25 % idle; then +100 ticks of which 80 idle; then +100, 0 idle.
    stat: [stat(300, 100), stat(320, 180), stat(420, 180)],
  })
  const sampler = new LoadSampler(r, LIVE)
  const a = await sampler.sample()
  t.equal(a.capacity, 6717.44, 'BogoMIPS summed over CPUs')
  t.equal(a.idleShare, 0.25, 'first sample: since-boot share')
  t.equal(a.load, Math.round(6717.44 * 0.25))
  const b = await sampler.sample()
  t.equal(b.idleShare, 0.8)
  t.equal(b.load, Math.round(6717.44 * 0.8))
  t.equal(b.percent, 80)
  const c = await sampler.sample()
  t.equal(c.load, 0, 'fully busy node reports 0')
})

t.test('live: memory pulls the index down only below the headroom', async t => {
  const total = 1000 * 1024
  const r = readers({
    meminfo: [meminfo(0, total, 500 * 1024), meminfo(0, total, 100 * 1024)],
    stat: [stat(0, 100)],
  })
  const sampler = new LoadSampler(r, { ...LIVE, capacity: 1000 })
  t.equal(
    (await sampler.sample()).load,
    1000,
    '50 % available > 20 % headroom: no effect',
  )
  t.equal(
    (await sampler.sample()).load,
    500,
    '10 % available = half the headroom: half',
  )
})

t.test('pure helpers', async t => {
  t.equal(idleShare({ idle: 50, total: 100 }), 0.5)
  t.equal(idleShare({ idle: 60, total: 110 }, { idle: 50, total: 100 }), 1)
  t.equal(
    idleShare({ idle: 50, total: 100 }, { idle: 50, total: 100 }),
    0.5,
    'no ticks: since boot',
  )
  t.equal(
    idleShare({ idle: 10, total: 20 }, { idle: 50, total: 100 }),
    0.5,
    'counters went back: since boot',
  )
  t.equal(idleShare({ idle: 0, total: 0 }), 0)
  t.equal(memFactor({ totalKB: 100, freeKB: 0, availableKB: 5 }, 0.2), 0.25)
  t.equal(
    memFactor({ totalKB: 100, freeKB: 0, availableKB: 5 }, 0),
    1,
    'headroom 0 disables',
  )
  t.equal(liveLoad(1000, 1.5, 2, 2), 2000, 'clamped shares, then scale')
})

t.test('capacity and scale', async t => {
  const r = readers({
    cpuinfo: 'processor : 0\n',
    meminfo: [meminfo(512 * 1024)],
    stat: [stat(0, 1)],
  })
  await t.rejects(
    new LoadSampler(r, LIVE).init(),
    { code: 'TC_ERR_PROCFS_CPUINFO' },
    'auto capacity needs bogomips',
  )
  const s = await new LoadSampler(r, {
    ...LIVE,
    capacity: 400,
    scale: 2.5,
  }).sample()
  t.equal(s.load, 1000)
  const sampler = new LoadSampler(r, { ...LIVE, capacity: 400 })
  await sampler.init()
  t.throws(
    () => sampler.setOptions(THESIS),
    { code: 'TC_ERR_PROCFS_CPUINFO' },
    'a reload to thesis without bogomips is refused',
  )
})

t.test('unreadable or malformed files are coded errors', async t => {
  await t.rejects(
    new LoadSampler(
      readers({ meminfo: ['MemFree: 1 kB\n'], stat: [stat(1, 1)] }),
      LIVE,
    ).sample(),
    {
      code: 'TC_ERR_PROCFS_MEMINFO',
      message: /meminfo lacks MemTotal/,
    },
  )
  await t.rejects(
    new LoadSampler(
      readers({ meminfo: [meminfo(1)], stat: ['intr 1\n'] }),
      LIVE,
    ).sample(),
    {
      code: 'TC_ERR_PROCFS_STAT',
    },
  )
})
