// Sync mode against a real rsync daemon (the target), both in a network
// namespace of this test: changes on the source reach the target; while
// the rsync daemon is down, changes pile up and passes fail with back-off;
// once it is back the copies converge.

import t from 'tap'
import { spawn } from 'node:child_process'
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { needsRoot, NetnsLab } from '@has/test-support'
import { binPath, run, runBin, track, type Proc } from '@has/test-support'
import { snapshot } from '../helpers/tree.js'

t.test('sync converges through changes and a target outage', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('sy')
  const dir = await mkdtemp(join(tmpdir(), 'hnm-sync-'))
  const procs: Proc[] = []
  t.teardown(async () => {
    for (const p of procs) await p.stop('SIGKILL')
    await lab.cleanup()
    await rm(dir, { recursive: true, force: true })
  })
  const ns = await lab.add('r')
  const source = join(dir, 'primary')
  const target = join(dir, 'secondary')
  await mkdir(source)
  await mkdir(target)
  const rsyncdConf = join(dir, 'rsyncd.conf')
  await writeFile(
    rsyncdConf,
    `uid = root\ngid = root\nuse chroot = no\nlog file = ${join(dir, 'rsyncd.log')}\n` +
      `[export]\npath = ${target}\nread only = no\nmunge symlinks = no\n`,
  )
  const startRsyncd = async (): Promise<Proc> => {
    const p = track(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'rsync',
          '--daemon',
          '--no-detach',
          `--config=${rsyncdConf}`,
          '--address=127.0.0.1',
          '--port=873',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    )
    procs.push(p)
    // Ready when it lists its module (bounded).
    for (let i = 0; i < 100; i++) {
      const r = await run('ip', [
        'netns',
        'exec',
        ns,
        'rsync',
        'rsync://127.0.0.1/',
      ])
      if (r.code === 0 && r.stdout.includes('export')) return p
      await new Promise(res => setTimeout(res, 50))
    }
    throw new Error('rsync daemon not ready')
  }
  let rsyncd = await startRsyncd()

  // Initial content with owners, modes, times and a symlink.
  await mkdir(join(source, 'docs/deep'), { recursive: true })
  await writeFile(join(source, 'index.html'), '<h1>hi</h1>\n')
  await writeFile(join(source, 'docs/deep/a.txt'), 'a\n')
  await chown(join(source, 'docs/deep/a.txt'), 1234, 2345)
  await chmod(join(source, 'docs/deep/a.txt'), 0o640)
  await utimes(join(source, 'index.html'), 1_000_000, 1_000_000)
  await symlink('docs/deep/a.txt', join(source, 'link'))

  const control = join(dir, 'ctl.sock')
  const conf = join(dir, 'sync.conf')
  await writeFile(
    conf,
    [
      'sync-delay 50ms',
      'sync-retry-min 100ms',
      'sync-retry-max 400ms',
      `sync ${source} rsync://127.0.0.1/export/`,
    ].join('\n') + '\n',
  )
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${ns}`,
      process.execPath,
      binPath('ha-nfs-mount'),
      '--config',
      conf,
      '--control',
      control,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const d = track(child)
  procs.push(d)

  // Waits until a pass that started after now leaves the trees equal.
  const converged = async (what: string): Promise<void> => {
    const want = await snapshot(source)
    const deadline = Date.now() + 20_000
    let seen = d.logs.length
    for (;;) {
      const got = await snapshot(target)
      if (JSON.stringify(got) === JSON.stringify(want)) {
        t.pass(
          `${what}: target matches source (${Object.keys(want).length} entries)`,
        )
        return
      }
      if (Date.now() > deadline) {
        t.same(got, want, `${what}: target matches source`)
        return
      }
      const idx = seen
      await d
        .waitLog(
          l => d.logs.indexOf(l) >= idx && l.event === 'synced',
          deadline - Date.now(),
        )
        .catch(() => undefined)
      seen = d.logs.length
    }
  }

  await d.waitLog(l => l.event === 'synced')
  await converged('initial full sync')

  await writeFile(join(source, 'new.txt'), 'new\n')
  await mkdir(join(source, 'newdir/sub'), { recursive: true })
  await writeFile(join(source, 'newdir/sub/f'), 'f\n')
  await converged('create files and directories')

  await writeFile(join(source, 'index.html'), '<h1>changed</h1>\n')
  await chmod(join(source, 'new.txt'), 0o600)
  await converged('change content and mode')

  await rm(join(source, 'docs/deep/a.txt'))
  await rm(join(source, 'newdir/sub'), { recursive: true })
  await converged('delete a file and a directory')

  await rename(join(source, 'new.txt'), join(source, 'renamed.txt'))
  await rename(join(source, 'docs'), join(source, 'documents'))
  await converged('rename a file and a directory')

  // Outage: the target's rsync daemon dies; changes keep coming.
  await rsyncd.stop('SIGKILL')
  await writeFile(join(source, 'during-outage.txt'), 'x\n')
  await rm(join(source, 'renamed.txt'))
  await d.waitLog(l => l.event === 'sync-failed')
  const st = await runBin('ha-nfs-mount', [
    'status',
    '--json',
    '--control',
    control,
  ])
  const s = JSON.parse(st.stdout)
  t.ok(s.syncs[0].consecutiveFailures >= 1, 'status counts the failures')
  t.ok(
    ['retrying', 'running'].includes(s.syncs[0].state),
    `status says ${s.syncs[0].state}`,
  )
  t.ok(s.syncs[0].pendingMs !== null, 'status shows pending changes')
  await writeFile(join(source, 'also-during-outage.txt'), 'y\n')

  rsyncd = await startRsyncd()
  await converged('after the target came back')
  const after = JSON.parse(
    (await runBin('ha-nfs-mount', ['status', '--json', '--control', control]))
      .stdout,
  )
  t.equal(
    after.syncs[0].consecutiveFailures,
    0,
    'failures reset after convergence',
  )
  t.equal(await d.stop('SIGTERM'), 0, 'clean exit')
})
