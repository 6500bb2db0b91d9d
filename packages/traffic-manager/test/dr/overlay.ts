// A node on another L2 segment (root only), in namespaces made here: the
// client, master a and node 1 share the bridge of the DR lab; node 4 sits
// on 10.9.8.0/24 behind a router that is also on the bridge. MAC rewrite
// cannot reach node 4 through eth0, so the operator extends an L2 segment
// to it with a VXLAN overlay (vx4 on the master, vx0 on the node, the
// node's overlay address 10.9.9.4) and sets `option node-interfaces any`:
// the plane then forwards node 4's flows out vx4, and node 4 answers the
// client through its router, not through the master.
import t from 'tap'
import { spawn } from 'node:child_process'
import { silentLogger } from '@has/daemon-kit'
import { needsRoot } from '@has/test-support'
import { spawnScript, track } from '@has/test-support'
import { openDrDataPlane } from '../../src/nft/dr-data-plane.js'
import type { Backend } from '../../src/data-plane.js'
import { DrLab, PEER, V4, nsExec } from './helpers/lab.js'

const N4 = {
  underlay: '10.9.8.4',
  overlay: '10.9.9.4',
  router: '10.9.0.254',
  routerRemote: '10.9.8.254',
}
const n1: Backend = {
  id: V4.nodes[0] as string,
  host: V4.nodes[0] as string,
  port: 80,
  weight: 1,
}
const n4: Backend = { id: N4.overlay, host: N4.overlay, port: 80, weight: 1 }

t.test(
  'node-interfaces any: a node behind a router, reached through a VXLAN overlay, serves the VIP and answers directly',
  async t => {
    if (!needsRoot(t)) return
    const lab = new DrLab(V4, 'drov')
    t.teardown(() => lab.cleanup())
    await lab.setUp()
    const L = lab.lab
    const { ns } = lab
    const br = `${L.prefix}-br`
    await lab.server('n1')
    await lab.vipTo('a')

    // The router (on the bridge and on node 4's segment) and node 4.
    const r = await L.add('r')
    const ns4 = await L.add('n4')
    await L.veth(
      { ns: r, ifname: 'eth0', addr: `${N4.router}/24` },
      { ns: br, ifname: 'p9' },
    )
    await L.ip(br, ['link', 'set', 'p9', 'master', 'br0'])
    await L.veth(
      { ns: r, ifname: 'eth1', addr: `${N4.routerRemote}/24` },
      { ns: ns4, ifname: 'eth0', addr: `${N4.underlay}/24` },
    )
    await L.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    await L.ip(ns4, ['route', 'add', 'default', 'via', N4.routerRemote])
    await L.ip(ns.a, ['route', 'add', '10.9.8.0/24', 'via', N4.router])
    // The overlay: one VXLAN segment between master a and node 4.
    await L.ip(ns.a, [
      'link',
      'add',
      'vx4',
      'type',
      'vxlan',
      'id',
      '42',
      'remote',
      N4.underlay,
      'local',
      V4.a,
      'dstport',
      '4789',
    ])
    await L.ip(ns.a, ['addr', 'add', '10.9.9.1/24', 'dev', 'vx4'])
    await L.ip(ns.a, ['link', 'set', 'vx4', 'up'])
    await L.ip(ns4, [
      'link',
      'add',
      'vx0',
      'type',
      'vxlan',
      'id',
      '42',
      'remote',
      V4.a,
      'local',
      N4.underlay,
      'dstport',
      '4789',
    ])
    await L.ip(ns4, ['addr', 'add', `${N4.overlay}/24`, 'dev', 'vx0'])
    await L.ip(ns4, ['link', 'set', 'vx0', 'up'])
    await lab.nodeVip(ns4)
    const web4 = spawnScript(PEER, ['server', 'n4', '80'], { netns: ns4 })
    lab.procs.push(web4)
    await web4.waitLog(l => l.msg === 'ready', 10_000)

    const open = (options: Record<string, string>) =>
      openDrDataPlane(lab.spec, { logger: silentLogger() }, options, {
        exec: nsExec(ns.a),
      })

    // Default (node-interfaces hooked): node 4 is reached by vx4, not eth0,
    // so it is left out and node 1 takes every connection.
    const hooked = await open({ interface: 'eth0' })
    await hooked.update([n1, n4])
    const before = new Set<string>()
    for (let i = 0; i < 20; i++) before.add(await lab.curl())
    t.same(
      [...before],
      ['n1'],
      'without node-interfaces any, the node behind the router is left out',
    )
    await hooked.close()

    await t.rejects(
      open({ 'node-interfaces': 'any' }),
      {
        code: 'TM_ERR_DR_OPTION',
        message: /node-interfaces any: needs option interface/,
      },
      'node-interfaces any without option interface is refused, named',
    )

    const dp = await open({ interface: 'eth0', 'node-interfaces': 'any' })
    t.teardown(() => dp.close())
    await dp.update([n1, n4])

    // Node 4's replies must not cross the master: watch the master's eth0.
    const dump = track(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          ns.a,
          'tcpdump',
          '-i',
          'eth0',
          '-n',
          '-l',
          '-p',
          'tcp port 80 and host',
          V4.vip,
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    )
    lab.procs.push(dump)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('tcpdump did not start listening within 10 s')),
        10_000,
      )
      const check = (): void => {
        if (dump.stderr.join('').includes('listening on')) {
          clearTimeout(timer)
          resolve()
        } else setTimeout(check, 50)
      }
      check()
    })
    const answers: string[] = []
    for (
      let i = 0;
      i < 30 && !(answers.includes('n1') && answers.includes('n4'));
      i++
    )
      answers.push(await lab.curl())
    t.same(
      [...new Set(answers)].sort(),
      ['n1', 'n4'],
      'HTTP through the VIP is answered by the local node and by the node behind the router',
    )
    dump.child.kill('SIGINT')
    await dump.exited
    const lines = dump.logs.map(l => String(l.msg))
    t.equal(
      lines.filter(l => l.includes(`${V4.vip}.80 >`)).length,
      0,
      "no reply packet crossed the master's eth0",
    )

    const c = await dp.counters()
    t.ok(
      (c.get(N4.overlay)?.packets ?? 0) > 0 &&
        (c.get(N4.overlay)?.total ?? 0) > 0,
      "kernel counters count node 4's packets and flows",
    )
    t.equal(
      c.get(N4.overlay)?.bytesOut,
      0,
      'no reply byte of node 4 on the master',
    )
  },
)
