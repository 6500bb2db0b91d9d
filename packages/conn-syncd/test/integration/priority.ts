// `nice` and `scheduler` reach the daemon (every thread) and the conntrack
// it spawns, as /proc/<pid>/stat shows them; refused, the daemon warns and
// runs anyway. The conntrack here is test/fixtures/fake-conntrack.sh (its
// `-E` follower is a bounded `sleep`), so no kernel table is touched; the
// daemon talks to a socket of ours on loopback.
import type { ConnSyncdStatus } from '../../src/conn-syncd.js'
import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { rmSync, writeFileSync } from 'node:fs'
import { createSocket } from 'node:dgram'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { controlRequest } from '@has/daemon-kit'
import {
  asNobody,
  binPath,
  isRoot,
  spawnDaemon,
  track,
  waitFor,
  type Proc,
} from '@has/test-support'
import { parseSchedStat, type SchedState } from '../../src/priority.js'

const fakeConntrack = fileURLToPath(
  new URL('../fixtures/fake-conntrack.sh', import.meta.url),
)

/** Every thread of a process, by its /proc/<pid>/task/<tid>/stat. */
const threads = (pid: number): SchedState[] =>
  readdirSync(`/proc/${pid}/task`).flatMap(tid => {
    const s = parseSchedStat(
      readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'),
    )
    return s ? [s] : []
  })

/** The daemon's conntrack follower: its child running the fixture's `sleep`. */
const follower = (pid: number): Promise<number> =>
  waitFor(
    () =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number)
        .find(c => readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'sleep'),
    { what: `the conntrack -E child of daemon ${pid}`, timeoutMs: 20_000 },
  )

const sched = (pid: number): SchedState => {
  const s = parseSchedStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  if (!s) throw new Error(`no stat for ${pid}`)
  return s
}

t.test('priority from conn-syncd.conf', async t => {
  const dir = mkdtempSync(`${tmpdir()}/cs-prio-`)
  // uid nobody (the refusal case) reads the config and makes its socket
  // here; sticky, as the control client wants of a shared directory.
  chmodSync(dir, 0o1777)
  const procs: Proc[] = []
  const peer = createSocket('udp4')
  t.teardown(async () => {
    for (const p of procs) await p.stop('SIGKILL')
    peer.close()
    rmSync(dir, { recursive: true, force: true })
  })
  await new Promise<void>(r => peer.bind(0, '127.0.0.1', () => r()))
  const conf = (name: string, lines: string): string => {
    const path = `${dir}/${name}.conf`
    writeFileSync(
      path,
      `node m1\nlisten 127.0.0.1:0\npeer 127.0.0.1:${peer.address().port}\nauth-key priority-test-1\nservice 10.0.0.100:80 tcp\nconntrack ${fakeConntrack}\n${lines}`,
    )
    chmodSync(path, 0o644)
    return path
  }
  const start = async (name: string, lines: string): Promise<Proc> => {
    const d = spawnDaemon('conn-syncd', [
      '--config',
      conf(name, lines),
      '--control',
      `${dir}/${name}.sock`,
    ])
    procs.push(d)
    await d.waitLog(l => l.msg === 'started', 30_000)
    return d
  }

  await t.test(
    'nice 5 (any user may raise it): daemon and conntrack',
    async t => {
      const d = await start('nice', 'nice 5\n')
      for (const s of threads(d.pid)) t.equal(s.nice, 5, 'every daemon thread')
      const c = await follower(d.pid)
      t.equal(sched(c).nice, 5, 'the conntrack -E child inherits it')
      const st = (await controlRequest(
        `${dir}/nice.sock`,
        'status',
      )) as ConnSyncdStatus
      t.same(st.priority, { nice: 5, rtPriority: 0, policy: 'other' })
      await d.stop()
    },
  )

  await t.test(
    'nice -5 and scheduler rr 10 (root): daemon and conntrack',
    async t => {
      if (!isRoot) {
        console.log('# skipped: lowering nice and SCHED_RR need root')
        t.skip('lowering nice and SCHED_RR need root', () => {})
        return
      }
      const d = await start('rr', 'nice -5\nscheduler rr 10\n')
      const all = threads(d.pid)
      t.ok(all.length > 1, `${all.length} threads`)
      for (const s of all)
        t.same(s, { nice: -5, rtPriority: 10, policy: 'rr' }, 'a thread')
      const c = await follower(d.pid)
      t.same(
        sched(c),
        { nice: -5, rtPriority: 10, policy: 'rr' },
        'the conntrack -E child inherits both',
      )
      t.ok(
        d.logs.some(l => l.msg === 'CPU priority set' && l.policy === 'rr'),
        'logged once set',
      )
      await d.stop()
    },
  )

  await t.test(
    'refused (uid nobody): a warning each, and the daemon runs',
    async t => {
      if (!isRoot) {
        console.log('# skipped: running as uid nobody needs root')
        t.skip('running as uid nobody needs root', () => {})
        return
      }
      const argv = asNobody(t, binPath('conn-syncd'), [
        '--config',
        conf('nobody', 'nice -5\nscheduler fifo 20\n'),
        '--control',
        `${dir}/nobody.sock`,
      ])
      if (!argv) return
      const [cmd = '', ...args] = argv
      const d = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }))
      procs.push(d)
      await d.waitLog(l => l.msg === 'started', 30_000)
      t.ok(
        d.logs.some(l => l.level === 40 && /cannot set nice/.test(`${l.msg}`)),
        'nice refused: warned',
      )
      t.ok(
        d.logs.some(
          l => l.level === 40 && /cannot set the scheduler/.test(`${l.msg}`),
        ),
        'scheduler refused: warned',
      )
      const s = sched(d.pid)
      t.equal(s.policy, 'other', 'still the default policy')
      t.ok(s.nice >= 0, `nice not lowered (${s.nice})`)
      await d.stop()
    },
  )
})
