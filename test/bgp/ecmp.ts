// Issue 13 end to end (root only): three active masters announce the VIP
// through BIRD to a router doing ECMP; direct routing with Maglev on every
// master, so a flow rehashed to another master reaches the same node.
// 300 long-lived streams through (and 100 over IPv6: the /128 VIP, its
// own BGP sessions, nodes reporting from their IPv6 addresses): a master
// crash (link down, then kill -9 of BIRD, traffic-manager and
// vip-announcer), its return, a graceful stop (withdraw, drain) of
// another, and the two- and one-master cases.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { needsRoot } from '@has/test-support'
import {
  BgpLab,
  MASTERS,
  MASTERS6,
  MS,
  NS,
  VIP6,
  probe,
  streams,
  type M,
} from './helpers/lab.js'

const STREAMS = 300
const STREAMS6 = 100
const addr = (m: M): string => MASTERS[MS.indexOf(m)] as string
const addr6 = (m: M): string => MASTERS6[MS.indexOf(m)] as string
const same = (
  a: readonly (string | null)[],
  b: readonly (string | null)[],
): number => a.filter((x, i) => x !== null && x === b[i]).length

t.test(
  'N active masters behind BGP ECMP: crash, return, graceful stop, two and one master',
  async t => {
    if (!needsRoot(t)) return
    const t0 = Date.now()
    const phase = (what: string): void =>
      void t.comment(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`)
    const dir = mkdtempSync(join(tmpdir(), 'has-bgp-'))
    const lab = new BgpLab(dir)
    t.teardown(async () => {
      await lab.cleanup()
      rmSync(dir, { recursive: true, force: true })
    })
    t.setTimeout(300_000)
    await lab.setUp()
    await lab.router()
    await Promise.all(NS.map(n => lab.startNode(n)))
    phase('namespaces, router and nodes up')
    await Promise.all(MS.map(m => lab.startMaster(m)))
    for (const m of MS)
      await lab.masters[m].va?.waitLog(
        l => l.msg === 'routes announced',
        30_000,
      )
    await lab.waitHops(MASTERS)
    await lab.waitHops(MASTERS6, 20_000, 6)
    phase('announced')
    t.pass(
      'every master announced the VIP and the /128; the router holds one route each with three next hops',
    )

    const answers = new Set<string>()
    for (let i = 0; i < 12; i++) answers.add(await lab.curl())
    t.ok(
      answers.size >= 2,
      `new connections spread over nodes (${[...answers].sort().join(' ')})`,
    )

    t.match(
      await lab.curl(6),
      /^n[1-4]$/,
      'HTTP through the IPv6 VIP, answered by a node',
    )

    const s = await streams(lab, STREAMS)
    const first = await s.round()
    const s6 = await streams(lab, STREAMS6, VIP6)
    const first6 = await s6.round()
    phase('streams open')
    t.equal(
      first.filter(n => n === null).length,
      0,
      `${STREAMS} streams open and answering`,
    )
    t.equal(
      first6.filter(n => n === null).length,
      0,
      `${STREAMS6} IPv6 streams open and answering`,
    )
    const perMaster = await Promise.all(
      MS.map(async m => {
        const st = (await controlRequest(lab.tmSocket(m), 'status')) as {
          services: { nodes: { total: number }[] }[]
        }
        return st.services[0]?.nodes.reduce((a, n) => a + n.total, 0) ?? 0
      }),
    )
    t.ok(
      perMaster.every(n => n > 0),
      `ECMP gave every master new flows (${perMaster.join(', ')})`,
    )

    // Crash m2: link down, then kill -9 of everything it runs. BFD (3 x 100 ms) tells the router.
    const probing = await probe(lab, 3000)
    const crashAt = Date.now()
    await lab.crash('m2')
    await lab.waitHops([addr('m1'), addr('m3')], 10_000)
    const withdrawnMs = Date.now() - crashAt
    const p = await probing.done
    const lastFailure = p.failures.length
      ? Math.max(...p.failures) + probing.started - crashAt
      : -1
    t.ok(
      withdrawnMs < 2000,
      `router dropped the dead master's next hop ${withdrawnMs} ms after the crash`,
    )
    t.ok(
      lastFailure < 2000,
      `new connections succeed again ${lastFailure} ms after the crash (${p.failures.length}/${p.attempts} probe attempts failed)`,
    )
    await lab.waitHops([addr6('m1'), addr6('m3')], 10_000, 6)
    const afterCrash = await s.round()
    const afterCrash6 = await s6.round()
    phase('crash done')
    const kept = same(first, afterCrash)
    t.ok(
      kept >= STREAMS * 0.99,
      `${kept}/${STREAMS} streams survived the crash`,
    )
    const kept6 = same(first6, afterCrash6)
    t.ok(
      kept6 >= STREAMS6 * 0.99,
      `${kept6}/${STREAMS6} IPv6 streams survived the crash`,
    )

    // m2 returns: its announcer waits for health to settle, then the router rehashes onto it.
    await lab.linkUp('m2')
    await lab.startMaster('m2')
    phase('m2 restarted')
    await lab.masters.m2.va?.waitLog(l => l.msg === 'routes announced', 30_000)
    await lab.waitHops(MASTERS)
    await lab.waitHops(MASTERS6, 20_000, 6)
    const afterReturn = await s.round()
    phase('return done')
    t.same(
      afterReturn,
      afterCrash,
      'no stream broke or moved when the master came back',
    )
    t.same(
      await s6.round(),
      afterCrash6,
      'no IPv6 stream broke or moved when the master came back',
    )

    // Graceful stop of m3: withdraw first, drain, then traffic-manager goes.
    const m3 = lab.masters.m3
    await m3.va?.stop('SIGTERM')
    await lab.waitHops([addr('m1'), addr('m2')], 10_000)
    await lab.waitHops([addr6('m1'), addr6('m2')], 10_000, 6)
    await m3.tm?.stop('SIGTERM')
    await m3.bird?.stop('SIGTERM')
    const afterStop = await s.round()
    phase('graceful stop done')
    t.same(
      afterStop,
      afterCrash,
      'two masters: the graceful stop broke no stream',
    )
    t.same(
      await s6.round(),
      afterCrash6,
      'two masters: the graceful stop broke no IPv6 stream',
    )

    // One master alone: drain m2 through its control socket.
    t.same(
      await controlRequest(lab.vaSocket('m2'), 'drain'),
      { state: 'draining' },
      'drain answers its state',
    )
    await lab.waitHops([addr('m1')], 10_000)
    await lab.waitHops([addr6('m1')], 10_000, 6)
    const alone = await s.round()
    t.same(alone, afterCrash, 'one master alone carries every stream')
    t.same(
      await s6.round(),
      afterCrash6,
      'one master alone carries every IPv6 stream',
    )
    t.match(
      await lab.curl(),
      /^n[1-4]$/,
      'new connections through the last master',
    )
    const st = (await controlRequest(lab.vaSocket('m2'), 'status')) as {
      state: string
      announced: boolean
    }
    t.match(
      st,
      { state: 'draining', announced: false },
      'status says draining, routes withdrawn',
    )
    s.p.child.stdin?.end()
    s6.p.child.stdin?.end()
  },
)
