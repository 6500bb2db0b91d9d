// hasctl against real daemons on loopback, no root: a traffic-manager with
// three nodes (two web servers up, one never started), their
// traffic-clients, ldirectord in director mode (its check on the third node
// fails), heartbeatd alone (its peer is dead), ha-nfs-mount syncing two
// local directories. conn-syncd, erd and radvd-lite are not started: the
// view must say so and carry on. heartbeatd and the traffic-manager are also
// read as remotes through their --metrics listeners, and one remote answers
// nothing at all.

import t from 'tap'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { runBin, spawnDaemon, type Proc, waitFor } from '@has/test-support'
import { TrafficLab, freePort } from '../../../../test/helpers/traffic-lab.js'
import type { ClusterView } from '../../src/view.js'

/** A probe that throws or answers undefined is "not yet" (waitFor). */
function until<T>(
  what: string,
  withinMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  return waitFor(probe, { what, timeoutMs: withinMs, intervalMs: 50 })
}

t.test(
  'one view of every daemon on the node, remotes, and the ones not running',
  async t => {
    const lab = new TrafficLab({
      cpus: [2, 2, 2],
      schedulers: ['wrr'],
      ipBase: 91,
      timeoutMs: 1500,
    })
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
    })
    const dir = lab.dir
    await lab.init()
    const [n1, n2, n3] = lab.nodes as [
      (typeof lab.nodes)[0],
      (typeof lab.nodes)[0],
      (typeof lab.nodes)[0],
    ]
    await lab.startWeb(n1)
    await lab.startWeb(n2)
    await Promise.all([
      lab.startManager(),
      ...lab.nodes.map(n => lab.startClient(n)),
    ])
    await lab.until(
      s => s.nodes.every(n => n.state === 'up'),
      10_000,
      'all three nodes report up',
    )

    // ldirectord: node3 has no web server, so its check fails and it is drained.
    const ldCf = join(dir, 'ldirectord.cf')
    writeFileSync(
      ldCf,
      `checkinterval = 0.3
checktimeout = 1
failurecount = 1
trafficmanagercontrol = ${lab.tmControl}
virtual = 127.0.0.1:${lab.vipPorts[0]}
${lab.nodes.map(n => `    real = ${n.ip}:${lab.nodePort} masq`).join('\n')}
    service = http
    request = "index.html"
    receive = "^node[0-9]"
`,
    )
    const ld = spawnDaemon('ldirectord', [
      '-c',
      ldCf,
      '--control',
      join(dir, 'ldirectord.sock'),
    ])
    procs.push(ld)
    await ld.waitLog(
      l => l.msg === 'weight set' && l.node === n3.ip && l.weight === '0',
    )

    // heartbeatd alone on loopback: it holds its group, its peer is dead.
    const hbPort = await freePort('udp')
    mkdirSync(join(dir, 'rd'))
    writeFileSync(
      join(dir, 'ha.cf'),
      `keepalive 100ms\ndeadtime 500ms\ninitdead 500ms\nudpport ${hbPort}\nucast lo 127.0.0.2\nnode alpha beta\n` +
        `state_dir ${dir}/state\nresource_dir ${dir}/rd\n`,
    )
    writeFileSync(join(dir, 'authkeys'), 'auth 1\n1 sha1 hasctl-test-secret\n')
    chmodSync(join(dir, 'authkeys'), 0o600)
    writeFileSync(join(dir, 'haresources'), 'alpha vip::x\n')
    writeFileSync(join(dir, 'rd', 'vip'), '#!/bin/sh\nexit 0\n')
    chmodSync(join(dir, 'rd', 'vip'), 0o755)
    const hb = spawnDaemon('heartbeatd', [
      '--config',
      join(dir, 'ha.cf'),
      '--node',
      'alpha',
      '--control',
      join(dir, 'heartbeatd.sock'),
      '--metrics',
      '127.0.0.1:0',
    ])
    procs.push(hb)
    await hb.waitLog(l => l.msg === 'active node' && l.active === 'alpha')
    const hbMetrics = (await hb.waitLog(l => l.msg === 'metrics listener up'))
      .listen as string

    // ha-nfs-mount: sync only, between two local directories.
    mkdirSync(join(dir, 'export-a'))
    mkdirSync(join(dir, 'export-b'))
    writeFileSync(join(dir, 'export-a', 'index.html'), 'hi\n')
    writeFileSync(
      join(dir, 'hnm.conf'),
      `sync-delay 50ms\nsync ${dir}/export-a ${dir}/export-b/\n`,
    )
    const hnmSock = join(dir, 'ha-nfs-mount.sock')
    const hnm = spawnDaemon('ha-nfs-mount', [
      '--config',
      join(dir, 'hnm.conf'),
      '--control',
      hnmSock,
    ])
    procs.push(hnm)
    await until('one sync pass', 15_000, async () => {
      const s = (await controlRequest(hnmSock, 'status')) as {
        syncs: { passes: number }[]
      }
      return (s.syncs[0]?.passes ?? 0) >= 1 ? true : undefined
    })

    const deadRemote = `127.0.0.1:${await freePort('tcp')}`
    const args = [
      'status',
      '--json',
      '--timeout',
      '3s',
      '--control-dir',
      dir,
      '--socket',
      `traffic-manager=${lab.tmControl}`,
      '--socket',
      `traffic-client=${n1.control}`,
      '--remote',
      hbMetrics,
      '--remote',
      `127.0.0.1:${lab.metricsPort}`,
      '--remote',
      deadRemote,
    ]
    const r = await runBin('hasctl', args)
    t.equal(r.code, 0, `hasctl exits 0: ${r.stderr}`)
    const v = JSON.parse(r.stdout) as ClusterView

    const state = (d: string, where = 'local') =>
      v.daemons.find(x => x.daemon === d && x.where === where)?.state
    for (const d of [
      'heartbeatd',
      'traffic-manager',
      'ldirectord',
      'ha-nfs-mount',
      'traffic-client',
    ]) {
      t.equal(state(d), 'running', `${d} is running`)
    }
    for (const d of ['conn-syncd', 'erd', 'radvd-lite'])
      t.equal(state(d), 'not running', `${d} is shown as not running`)
    t.equal(
      state('heartbeatd', hbMetrics),
      'running',
      'heartbeatd read as a remote',
    )
    t.equal(
      state('traffic-manager', `127.0.0.1:${lab.metricsPort}`),
      'running',
      'traffic-manager read as a remote',
    )
    t.match(
      v.daemons.find(x => x.where === deadRemote),
      { daemon: null, state: 'not running' },
      'the dead remote',
    )
    t.ok(
      v.problems.some(p => p.includes(deadRemote)),
      'the dead remote is a problem',
    )

    const vip = v.vip.find(x => x.where === 'local')
    t.match(
      vip,
      { self: 'alpha', active: 'alpha', peer: 'beta', peerAlive: false },
      'VIP owner and peer',
    )
    t.same(
      vip?.groups.map(g => [g.name, g.holder]),
      [['alpha', 'alpha']],
      'the group and its holder',
    )
    t.ok(
      v.problems.includes('heartbeatd alpha: peer beta is dead'),
      'a dead peer is a problem',
    )

    const svc = v.services.find(s => s.where === 'local')
    t.equal(svc?.scheduler, 'wrr')
    t.same(
      svc?.nodes.map(n => [n.address, n.state]),
      lab.nodes.map(n => [n.ip, 'up']),
      'every node with its state',
    )
    t.equal(
      svc?.nodes.find(n => n.address === n3.ip)?.weight,
      0,
      'the failing node is drained to weight 0',
    )
    t.ok(
      (svc?.nodes.find(n => n.address === n1.ip)?.weight ?? 0) > 0,
      'a healthy node keeps its weight',
    )

    t.same(
      v.checks.map(c => [c.real, c.status]).sort(),
      lab.nodes
        .map(n => [`${n.ip}:${lab.nodePort}`, n === n3 ? 'down' : 'up'])
        .sort(),
      'every check with its result',
    )
    t.ok(
      v.problems.some(p =>
        p.startsWith(
          `check 127.0.0.1:${lab.vipPorts[0]} -> ${n3.ip}:${lab.nodePort} failing`,
        ),
      ),
      'the failing check is a problem',
    )

    const sync = v.nfs[0]?.syncs[0]
    t.match(
      sync,
      { source: `${dir}/export-a`, state: 'idle' },
      'the content sync and its state',
    )
    t.type(sync?.lagMs, 'number', 'the sync lag is known after a pass')
    t.match(
      v.clients[0],
      { node: n1.ip, flag: 'report' },
      'the traffic-client on this node',
    )

    // The text form carries the same, in blocks.
    const text = await runBin(
      'hasctl',
      args.filter(a => a !== '--json'),
    )
    t.equal(text.code, 0)
    t.match(
      text.stdout,
      /VIP owner and peers \(heartbeatd\):\n\s+\[local\] node alpha, active alpha; peer beta dead/,
    )
    t.match(
      text.stdout,
      new RegExp(
        `-> ${n3.ip.replace(/\./g, '\\.')}:${lab.nodePort}\\s+up\\s+0\\s`,
      ),
    )
    t.match(text.stdout, /conn-syncd\s+local\s+not running/)
    t.match(text.stdout, /Content sync \(ha-nfs-mount\):/)

    // --watch prints one JSON line per refresh; --count bounds it.
    const w = await runBin('hasctl', [
      ...args,
      '--watch',
      '0.1',
      '--count',
      '2',
    ])
    t.equal(w.code, 0)
    t.equal(
      w.stdout.trim().split('\n').length,
      2,
      'two refreshes, one JSON line each',
    )

    // Stopping a daemon shows at the next look.
    await ld.stop()
    const after = JSON.parse(
      (await runBin('hasctl', args)).stdout,
    ) as ClusterView
    t.equal(
      after.daemons.find(x => x.daemon === 'ldirectord')?.state,
      'not running',
      'a stopped daemon shows as not running',
    )
    t.equal(after.checks.length, 0, 'and its checks are gone, not stale')
  },
)

t.test(
  'nothing running: every daemon listed as not running, exit 1 with a coded error',
  async t => {
    const dir = t.testdir({})
    const r = await runBin('hasctl', [
      'status',
      '--control-dir',
      dir,
      '--config',
      join(dir, 'none.conf'),
    ])
    t.equal(
      r.code,
      3,
      'an explicit --config that does not exist is a config error',
    )
    const r2 = await runBin('hasctl', [
      'status',
      '--control-dir',
      dir,
      '--timeout',
      '1s',
    ])
    t.equal(r2.code, 1)
    t.match(r2.stderr, /HASCTL_ERR_NOTHING_RUNNING/)
    t.match(r2.stdout, /Problems \(1\):\n\s+\* no daemon answered/)
    t.match(r2.stdout, /radvd-lite\s+local\s+not running/)
  },
)
