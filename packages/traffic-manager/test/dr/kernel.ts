// Direct routing on real kernel paths (root only): a client, two masters and
// three nodes on one bridge in namespaces made here. The masters run the
// nftables-dr plane; the failover moves the VIP with `ip addr` (as
// heartbeatd's VIP takeover does) and no connection sync runs anywhere.
import t from 'tap'
import { spawn } from 'node:child_process'
import { needsRoot, run } from '@has/test-support'
import { track, type Proc } from '@has/test-support'
import { DrLab, V4, V6, streams, tally } from './helpers/lab.js'

t.test(
  "IPv4: HTTP through the VIP, replies never cross the master; 200 streams survive failover, join, weight change; only a dead node's streams are lost",
  async t => {
    if (!needsRoot(t)) return
    const lab = new DrLab(V4, 'dr')
    t.teardown(() => lab.cleanup())
    await lab.setUp()
    for (const n of ['n1', 'n2', 'n3'] as const) await lab.server(n)
    await lab.vipTo('a')
    const dpA = await lab.dataPlane('a')
    const dpB = await lab.dataPlane('b')
    t.teardown(async () => {
      await dpA.close()
      await dpB.close()
    })
    t.equal(dpA.kind, 'nftables-dr')
    const two = [lab.backend(0), lab.backend(1)]
    await dpA.update(two)
    await dpB.update(two)

    // tcpdump on the active master: the client's packets pass, no reply does.
    const dump = track(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          lab.ns.a,
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
    const answers = new Set<string>()
    for (let i = 0; i < 20; i++) answers.add(await lab.curl())
    t.same(
      [...answers].sort(),
      ['n1', 'n2'],
      'HTTP answered by both nodes through the VIP',
    )
    dump.child.kill('SIGINT')
    await dump.exited
    const lines = dump.logs.map(l => String(l.msg))
    const toVip = lines.filter(l => l.includes(`> ${V4.vip}.80:`)).length
    const fromVip = lines.filter(l => l.includes(`${V4.vip}.80 >`)).length
    t.ok(toVip >= 20 * 3, `master saw the client's packets (${toVip})`)
    t.equal(fromVip, 0, 'master saw no reply packet')

    const counters = await dpA.counters()
    t.ok(
      (counters.get(V4.nodes[0] as string)?.packets ?? 0) > 0,
      'kernel counted packets for node 1',
    )
    t.ok(
      (counters.get(V4.nodes[0] as string)?.total ?? 0) > 0,
      'kernel counted new flows for node 1',
    )

    // 200 long-lived streams.
    const s = await streams(lab, 200)
    const first = await s.round()
    t.equal(first.filter(n => n === null).length, 0, 'all 200 streams answer')
    t.same(Object.keys(tally(first)).sort(), ['n1', 'n2'])
    const flows = await dpA.counters()
    const pinned = [...flows.values()].reduce((a, c) => a + c.active, 0)
    t.ok(pinned >= 200, `flows pinned in the kernel: ${pinned}`)

    // Failover: the VIP moves to B, which has pinned nothing; Maglev gives
    // every flow the node it had.
    await lab.vipTo('b', 'a')
    const afterFailover = await s.round()
    t.same(
      afterFailover,
      first,
      'every stream reached the same node through master B',
    )

    // A node joins and a weight changes on the active master (B): pinned
    // flows stay; new flows see the new node.
    const three = [lab.backend(0), lab.backend(1), lab.backend(2)]
    await dpA.update(three)
    await dpB.update(three)
    t.same(await s.round(), first, 'a node joining moved no stream')
    const weighted = [lab.backend(0, 3), lab.backend(1), lab.backend(2)]
    await dpA.update(weighted)
    await dpB.update(weighted)
    t.same(await s.round(), first, 'a weight change moved no stream')
    const fresh = new Set<string>()
    for (let i = 0; i < 30 && !fresh.has('n3'); i++) fresh.add(await lab.curl())
    t.ok(fresh.has('n3'), 'new connections reach the joined node')

    // Drain: n1 weight 0 keeps its streams, takes no new ones.
    const drained = [lab.backend(0, 0), lab.backend(1), lab.backend(2)]
    await dpB.update(drained)
    t.same(await s.round(), first, 'drain kept every stream')
    for (let i = 0; i < 20; i++)
      t.not(await lab.curl(), 'n1', 'a drained node gets no new connection')

    // Node 2 dies: only its streams are lost.
    const n2 = lab.procs.find(p => p.child.spawnargs.includes('n2')) as Proc
    await n2.stop('SIGKILL')
    await dpB.update([lab.backend(0, 0), lab.backend(2)])
    const afterDeath = await s.round()
    for (let i = 0; i < first.length; i++) {
      if (first[i] === 'n2')
        t.equal(afterDeath[i], null, `stream ${i} of the dead node is lost`)
      else
        t.equal(afterDeath[i], first[i], `stream ${i} on ${first[i]} survives`)
    }
    s.p.child.stdin?.end()
  },
)

t.test(
  "IPv6: HTTP and 200 streams through the same path; they survive failover, a join and a weight change; only a dead node's streams are lost",
  async t => {
    if (!needsRoot(t)) return
    const lab = new DrLab(V6, 'dr6')
    t.teardown(() => lab.cleanup())
    await lab.setUp()
    for (const n of ['n1', 'n2', 'n3'] as const) await lab.server(n)
    await lab.vipTo('a')
    const dpA = await lab.dataPlane('a')
    const dpB = await lab.dataPlane('b')
    t.teardown(async () => {
      await dpA.close()
      await dpB.close()
    })
    const two = [lab.backend(0), lab.backend(1)]
    await dpA.update(two)
    await dpB.update(two)
    const answers = new Set<string>()
    for (let i = 0; i < 20; i++) answers.add(await lab.curl())
    t.same([...answers].sort(), ['n1', 'n2'])
    const s = await streams(lab, 200)
    const first = await s.round()
    t.equal(
      first.filter(n => n === null).length,
      0,
      'all 200 IPv6 streams answer',
    )
    t.same(Object.keys(tally(first)).sort(), ['n1', 'n2'])
    await lab.vipTo('b', 'a')
    t.same(
      await s.round(),
      first,
      'IPv6 streams survive the failover without sync',
    )

    // A node joins, then a weight changes: pinned IPv6 flows stay put, new
    // flows reach the new node.
    const three = [lab.backend(0), lab.backend(1), lab.backend(2)]
    await dpA.update(three)
    await dpB.update(three)
    t.same(await s.round(), first, 'a node joining moved no IPv6 stream')
    const weighted = [lab.backend(0, 3), lab.backend(1), lab.backend(2)]
    await dpA.update(weighted)
    await dpB.update(weighted)
    t.same(await s.round(), first, 'a weight change moved no IPv6 stream')
    const fresh = new Set<string>()
    for (let i = 0; i < 30 && !fresh.has('n3'); i++) fresh.add(await lab.curl())
    t.ok(fresh.has('n3'), 'new IPv6 connections reach the joined node')

    // Node 2 dies: only its streams are lost.
    const n2 = lab.procs.find(p => p.child.spawnargs.includes('n2')) as Proc
    await n2.stop('SIGKILL')
    await dpB.update([lab.backend(0, 3), lab.backend(2)])
    const afterDeath = await s.round()
    const lost = afterDeath
      .map((n, i) => (n === null ? i : -1))
      .filter(i => i >= 0)
    t.same(
      lost,
      first.map((n, i) => (n === 'n2' ? i : -1)).filter(i => i >= 0),
      `lost exactly n2's IPv6 streams (${tally(first).n2})`,
    )
    t.same(
      afterDeath.filter(n => n !== null),
      first.filter(n => n !== 'n2'),
      'the other IPv6 streams are untouched',
    )
    s.p.child.stdin?.end()
  },
)

// A frame for the VIP that is addressed to another MAC reaches a master
// whenever the switch floods it (a MAC it has not learnt or has lost, a
// crashed master's) or the master's NIC is promiscuous (a bridge member,
// tcpdump). Forwarding it would make a second director: the node gets the
// packet twice, and a dead director's flows keep working through the others
// and hide its death. Only frames for this host's own MAC are forwarded.
for (const A of [V4, V6])
  t.test(
    `IPv${A.family}: a frame for the VIP sent to another MAC is not forwarded`,
    async t => {
      if (!needsRoot(t)) return
      const lab = new DrLab(A, `drm${A.family}`)
      t.teardown(() => lab.cleanup())
      await lab.setUp()
      await lab.server('n1')
      await lab.vipTo('a')
      const dpA = await lab.dataPlane('a')
      const dpB = await lab.dataPlane('b')
      t.teardown(async () => {
        await dpA.close()
        await dpB.close()
      })
      await dpA.update([lab.backend(0)])
      await dpB.update([lab.backend(0)])
      t.equal(await lab.curl(), 'n1', 'through the VIP owner: answered')

      // The client's neighbour entry names a MAC no port has: the bridge
      // floods the frame to both masters.
      await lab.lab.ip(lab.ns.client, [
        'neigh',
        'replace',
        A.vip,
        'lladdr',
        '02:00:5e:00:53:99',
        'dev',
        'eth0',
        'nud',
        'permanent',
      ])
      const host = A.family === 6 ? `[${A.vip}]` : A.vip
      const r = await run('ip', [
        'netns',
        'exec',
        lab.ns.client,
        'curl',
        '-s',
        '--max-time',
        '2',
        `http://${host}/`,
      ])
      t.not(
        r.code,
        0,
        `no answer through a flooded frame (curl exit ${r.code})`,
      )
      const flows = async (dp: typeof dpA): Promise<number> =>
        (await dp.counters()).get(A.nodes[0] as string)?.total ?? 0
      t.equal(await flows(dpA), 1, 'master A forwarded only its own flow')
      t.equal(await flows(dpB), 0, 'master B forwarded nothing')
    },
  )
