// The real binary over loopback: reports, the flag through the CLI, SIGHUP
// with a bad file, the final `down` on SIGTERM, --check-config.
import type { TrafficClientStatus } from '../../src/client.js'
import t from 'tap'
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { spawnDaemon, runBin } from '@has/test-support'
import { writeProcfsFixture } from '../../src/procfs-fixture.js'
import { Receiver } from '../helpers/receiver.js'
import { main } from '../../src/cli.js'

async function cli(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const r = { code: 0, out: '', err: '' }
  r.code = await main(['node', 'traffic-client', ...args], {
    out: s => void (r.out += s),
    err: s => void (r.err += s),
  })
  return r
}

const KEY = 'integration-test-key-0123456789'

function workdir(t: { teardown: (f: () => void) => void }): string {
  // Unix socket paths are limited to 107 bytes: a short dir under /tmp.
  const dir = mkdtempSync(join(tmpdir(), 'tc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function waitStatus(
  ctl: string,
  pred: (s: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const s = (await controlRequest(ctl, 'status')) as Record<string, unknown>
    if (pred(s)) return s
    await new Promise(r => setTimeout(r, 25))
  }
  throw new Error('status condition not reached')
}

t.test('reports, flag, reload, final down', async t => {
  const dir = workdir(t)
  writeProcfsFixture(join(dir, 'proc'), {
    bogomips: 2000,
    cpus: 2,
    memTotalMB: 2048,
    memFreeMB: 1024,
    idleShare: 0.5,
  })
  writeFileSync(join(dir, 'tc.key'), `${KEY}\n`, { mode: 0o600 })
  const rx = await Receiver.open('127.0.0.1', KEY)
  t.teardown(() => rx.close())
  const conf = join(dir, 'tcd.conf')
  const good = `master1 127.0.0.1\nport ${rx.port}\nupdates 100\nErrorLog tcd.err\nnode 127.0.0.21\nkeyfile tc.key\n`
  writeFileSync(conf, good)
  const ctl = join(dir, 'ctl.sock')
  const tc = spawnDaemon('traffic-client', [
    '-c',
    conf,
    '--control',
    ctl,
    '--procfs',
    join(dir, 'proc'),
    '--metrics',
    '127.0.0.1:0',
  ])
  t.teardown(() => tc.stop('SIGKILL'))
  const metricsUp = await tc.waitLog(l => l.msg === 'metrics listener up')
  await tc.waitLog(l => l.msg === 'started')

  // Several reports with valid MACs and strictly increasing seq.
  const seen = [await rx.next(), await rx.next(), await rx.next()]
  for (const r of seen) {
    t.equal(r.macOk, true)
    t.match(r.report, {
      node: '127.0.0.21',
      load: 2000,
      state: 'up',
      sender: 'tc',
    })
  }
  t.ok(
    seen[0]!.report.seq < seen[1]!.report.seq &&
      seen[1]!.report.seq < seen[2]!.report.seq,
    'seq increases',
  )

  // pause via the CLI (in-process main; `status` below spawns the real
  // binary): one drain report, then nothing, however many rounds pass.
  const p = await cli(['pause', '--control', ctl])
  t.equal(p.code, 0, p.err)
  t.equal(p.out, 'flag: report -> paused\n')
  const paused = (await controlRequest(ctl, 'status')) as TrafficClientStatus
  t.match(
    (await rx.until(r => r.report.state === 'drain')).report,
    { seq: paused.seq, load: 0 },
    'pause said drain once, as its last datagram',
  )
  await waitStatus(ctl, s => (s.rounds as number) >= paused.rounds + 3)
  const d = await cli(['drain', '--control', ctl])
  t.equal(d.out, 'flag: paused -> drain\n')
  const drained = await rx.until(r => r.report.state === 'drain')
  t.equal(drained.report.seq, paused.seq + 1, 'no datagram while paused')
  t.equal(drained.report.load, 0, 'drain reports load 0')
  t.same(await controlRequest(ctl, 'resume'), {
    previous: 'drain',
    flag: 'report',
  })
  t.match((await rx.until(r => r.report.state === 'up')).report, { load: 2000 })

  const st = await runBin('traffic-client', ['status', '--control', ctl])
  t.match(
    st.stdout,
    /node 127\.0\.0\.21 {2}flag report {2}formula live {2}load 2000 \(50% spare\)/,
  )
  t.match(st.stdout, /master1 +127\.0\.0\.1:\d+/)

  const metrics = await (
    await fetch(`http://${String(metricsUp.listen)}/metrics`)
  ).text()
  t.match(metrics, /tc_reports_sent_total\{master="127\.0\.0\.1:\d+"\} \d+/)
  t.match(metrics, /tc_flag\{flag="report"\} 1/)
  t.match(metrics, /tc_load_index 2000/)

  // SIGHUP with a bad file: refused, old config keeps reporting, ErrorLog has it.
  writeFileSync(conf, good.replace('node 127.0.0.21', 'node 127.0.0.x'))
  tc.child.kill('SIGHUP')
  const rej = await tc.waitLog(
    l => l.msg === 'reload rejected; keeping the last good configuration',
  )
  t.match(rej, { issues: [{ line: 5, value: '127.0.0.x' }] })
  const after = (await controlRequest(ctl, 'status')) as TrafficClientStatus
  t.equal(
    (await rx.until(r => r.report.seq > after.seq)).report.node,
    '127.0.0.21',
  )
  t.match(readFileSync(join(dir, 'tcd.err'), 'utf8'), /reload rejected/)

  // SIGHUP with a good file: applied.
  writeFileSync(conf, good.replace('node 127.0.0.21', 'node 127.0.0.22'))
  tc.child.kill('SIGHUP')
  await tc.waitLog(l => l.msg === 'configuration reloaded')
  t.equal((await rx.until(r => r.report.node === '127.0.0.22')).macOk, true)

  // SIGTERM: a final down report, exit 0.
  t.equal(await tc.stop('SIGTERM'), 0)
  const last = await rx.until(r => r.report.state === 'down')
  t.match(last.report, { node: '127.0.0.22', state: 'down', load: 0 })
  t.equal(last.macOk, true)
})

t.test(
  '--check-config on the real binary exits 3 naming file:line',
  async t => {
    const dir = workdir(t)
    writeFileSync(
      join(dir, 'bad.conf'),
      'master1 127.0.0.1\nnode 127.0.0.1\nupdates soon\n',
    )
    const r = await runBin('traffic-client', [
      '--check-config',
      '-c',
      join(dir, 'bad.conf'),
    ])
    t.equal(r.code, 3)
    t.match(r.stderr, `${join(dir, 'bad.conf')}:3: updates must be`)
    t.match(r.stderr, '(got "soon")')
  },
)
