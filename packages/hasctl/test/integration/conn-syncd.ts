// hasctl reading conn-syncd (root: conn-syncd needs conntrack, so each of
// the two masters runs in a namespace of this test, joined by a veth pair):
// the view shows master m1's peer m2, readiness and backlog.

import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { needsRoot, NetnsLab } from '@has/test-support'
import { runBin, spawnDaemon, type Proc } from '@has/test-support'
import type { ClusterView } from '../../src/view.js'

t.test(
  'conn-syncd with its peer: ready, backlog and the peer in the view',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('hc')
    const dir = mkdtempSync(join(tmpdir(), 'hasctl-cs-'))
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
      rmSync(dir, { recursive: true, force: true })
    })
    const m1 = await lab.add('m1')
    const m2 = await lab.add('m2')
    await lab.veth(
      { ns: m1, ifname: 'eth0', addr: '10.211.0.1/24' },
      { ns: m2, ifname: 'eth0', addr: '10.211.0.2/24' },
    )
    const start = async (
      name: string,
      ns: string,
      self: string,
      peer: string,
    ): Promise<Proc> => {
      const conf = join(dir, `${name}.conf`)
      writeFileSync(
        conf,
        [
          `node ${name}`,
          `listen ${self}:6950`,
          `peer ${peer}:6950`,
          'auth-key hasctl-test-secret-1',
          'service 10.211.0.100:80 tcp',
          '',
        ].join('\n'),
      )
      const p = spawnDaemon(
        'conn-syncd',
        ['--config', conf, '--control', join(dir, `${name}.sock`)],
        { netns: ns },
      )
      procs.push(p)
      await p.waitLog(l => l.msg === 'started', 40_000)
      return p
    }
    await Promise.all([
      start('m1', m1, '10.211.0.1', '10.211.0.2'),
      start('m2', m2, '10.211.0.2', '10.211.0.1'),
    ])

    // Bounded: until m1 has heard m2 (its peer row has a last-seen time).
    let v: ClusterView | undefined
    for (let i = 0; i < 100; i++) {
      const r = await runBin('hasctl', [
        'status',
        '--json',
        '--control-dir',
        dir,
        '--socket',
        `conn-syncd=${join(dir, 'm1.sock')}`,
      ])
      t.equal(r.code, 0, r.stderr)
      v = JSON.parse(r.stdout) as ClusterView
      if (
        v.connSync[0]?.peers[0]?.lastSeenMsAgo !== null &&
        v.connSync[0]?.ready === true
      )
        break
      await new Promise(res => setTimeout(res, 200))
    }
    t.match(
      v?.connSync[0],
      {
        where: 'local',
        node: 'm1',
        ready: true,
        backlog: 0,
        peers: [{ name: 'm2' }],
      },
      'm1 with its peer m2, ready, no backlog',
    )
    t.equal(v?.daemons.find(d => d.daemon === 'conn-syncd')?.state, 'running')
    const text = await runBin('hasctl', [
      'status',
      '--control-dir',
      dir,
      '--socket',
      `conn-syncd=${join(dir, 'm1.sock')}`,
    ])
    t.match(
      text.stdout,
      /Connection sync \(conn-syncd\):\n.*\nlocal\s+m1\s+yes\s+\d+\s+\d+\s+0\s/,
    )
  },
)
