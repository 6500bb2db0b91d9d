// A sync target that drops every packet (an nftables rule in a network
// namespace of this test: the SYN goes unanswered, as to a dead host) must
// show up in the log and in `status` within sync-connect-timeout, not after
// rsync's own 30 s connect timeout with "running, 0 failures" meanwhile.

import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { needsRoot, NetnsLab } from '@has/test-support'
import { binPath, runBin, track, type Proc } from '@has/test-support'

t.test(
  'an unreachable sync target is reported within sync-connect-timeout',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('su')
    const dir = await mkdtemp(join(tmpdir(), 'hnm-unreach-'))
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
      await rm(dir, { recursive: true, force: true })
    })
    const ns = await lab.add('r')
    // Inside the namespace only: SYNs to 127.0.0.5:873 vanish.
    await lab.exec(ns, 'nft', ['add table inet hnmtest'])
    await lab.exec(ns, 'nft', [
      'add chain inet hnmtest out { type filter hook output priority 0 ; }',
    ])
    await lab.exec(ns, 'nft', [
      'add rule inet hnmtest out ip daddr 127.0.0.5 tcp dport 873 drop',
    ])
    const source = join(dir, 'primary')
    await mkdir(source)
    await writeFile(join(source, 'a.txt'), 'a\n')
    const control = join(dir, 'ctl.sock')
    const conf = join(dir, 'sync.conf')
    await writeFile(
      conf,
      [
        'sync-connect-timeout 1s',
        'sync-retry-min 100ms',
        'sync-retry-max 400ms',
        `sync ${source} rsync://127.0.0.5/export/`,
      ].join('\n') + '\n',
    )
    const d = track(
      spawn(
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
      ),
    )
    procs.push(d)

    // Before the probe this took rsync's --contimeout (30 s): the bound is
    // well under that and well over the 1 s configured.
    const failed = await d.waitLog(l => l.event === 'sync-failed', 10_000)
    t.match(
      JSON.stringify(failed),
      /target unreachable: 127\.0\.0\.5:873: no answer within 1000 ms/,
    )
    const s = JSON.parse(
      (await runBin('ha-nfs-mount', ['status', '--json', '--control', control]))
        .stdout,
    )
    t.ok(s.syncs[0].consecutiveFailures >= 1, 'status counts the failure')
    t.match(s.syncs[0].lastError, /target unreachable/, 'status says why')
    t.equal(await d.stop('SIGTERM'), 0, 'clean exit')
  },
)
