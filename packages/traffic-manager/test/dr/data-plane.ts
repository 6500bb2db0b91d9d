// The direct-routing plane driven through a recording exec (behaviour
// without a kernel), then its refusals on real kernel paths (root only).
import t from 'tap'
import { silentLogger } from '@has/daemon-kit'
import { openDrDataPlane } from '../../src/nft/dr-data-plane.js'
import type { Exec } from '../../src/nft/kernel-exec.js'
import { needsRoot, NetnsLab } from '@has/test-support'
import { nsExec } from './helpers/lab.js'

const spec = {
  name: '10.9.0.100:80',
  address: '10.9.0.100',
  port: 80,
  family: 4 as const,
}
const be = (host: string, weight: number, port = 80) => ({
  id: host,
  host,
  port,
  weight,
})

interface Captured {
  logs: { level: string; obj: Record<string, unknown>; msg: string }[]
}
function capturingLogger(c: Captured) {
  const mk = (
    bindings: Record<string, unknown>,
  ): ReturnType<typeof silentLogger> => {
    const l = silentLogger()
    const at = (level: string) => (obj: unknown, msg?: string) => {
      c.logs.push({
        level,
        obj: {
          ...bindings,
          ...(typeof obj === 'object' ? (obj as object) : {}),
        },
        msg: msg ?? (typeof obj === 'string' ? obj : ''),
      })
    }
    return Object.assign(Object.create(l) as object, {
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      debug: at('debug'),
      child: (b: Record<string, unknown>) => mk({ ...bindings, ...b }),
    }) as unknown as ReturnType<typeof silentLogger>
  }
  return mk({})
}

/** A pretend host: nodes .21-.23 on eth0, .50 behind a gateway. */
function fakeHost(
  scripts: string[],
  counts: Record<string, number> = {},
): Exec {
  return async (cmd, args, stdin) => {
    counts[`${cmd} ${args.slice(0, 3).join(' ')}`] =
      (counts[`${cmd} ${args.slice(0, 3).join(' ')}`] ?? 0) + 1
    const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' })
    if (cmd === 'nft' && args[0] === '-f') {
      scripts.push(stdin ?? '')
      return ok()
    }
    if (cmd === 'ip' && args[1] === 'route') {
      const host = String(args[3])
      return ok(
        JSON.stringify([
          host === '10.9.0.50'
            ? { dst: host, gateway: '10.9.0.254', dev: 'eth0' }
            : { dst: host, dev: 'eth0' },
        ]),
      )
    }
    if (cmd === 'ip' && args[1] === 'neigh') {
      const host = String(args[4])
      return ok(
        JSON.stringify([
          {
            dst: host,
            dev: 'eth0',
            lladdr: `02:00:00:00:00:${host.split('.')[3]}`,
            state: ['REACHABLE'],
          },
        ]),
      )
    }
    if (cmd === 'ip' && args[1] === 'link')
      return ok(
        JSON.stringify([{ ifname: 'eth0', address: '02:00:00:00:00:02' }]),
      )
    return ok()
  }
}

t.test('refusals: no CAP_NET_ADMIN, bad options (named)', async t => {
  const ctx = { logger: silentLogger() }
  await t.rejects(
    openDrDataPlane(spec, ctx, {}, { hasNetAdmin: () => false }),
    { code: 'TM_ERR_DR_NO_CAP' },
  )
  await t.rejects(
    openDrDataPlane(
      spec,
      ctx,
      { 'table-size': '1000' },
      { hasNetAdmin: () => true, exec: fakeHost([]) },
    ),
    {
      code: 'TM_ERR_DR_OPTION',
      message: /10\.9\.0\.100:80: table-size: expected a prime.*"1000"/,
    },
  )
})

t.test(
  'updates: one transaction each; unchanged sets are not reapplied; leavers deleted; bad nodes left out and named',
  async t => {
    const scripts: string[] = []
    const counts: Record<string, number> = {}
    const cap: Captured = { logs: [] }
    const dp = await openDrDataPlane(
      spec,
      { logger: capturingLogger(cap) },
      {},
      { hasNetAdmin: () => true, exec: fakeHost(scripts, counts) },
    )
    t.match(scripts[0], /^delete table netdev has_dr_10_9_0_100_80/)
    t.equal(scripts.length, 1, 'no node yet: nothing hooked')
    await dp.update([
      be('10.9.0.21', 1),
      be('10.9.0.22', 1),
      be('10.9.0.50', 1),
      be('10.9.0.23', 1, 8080),
    ])
    t.equal(scripts.length, 2)
    t.match(scripts[1], 'ether daddr set 02:00:00:00:00:21')
    t.notMatch(scripts[1], /10_9_0_50|10_9_0_23/)
    const errs = cap.logs.filter(l => l.level === 'error')
    t.equal(errs.length, 2)
    t.match(errs[0], {
      obj: { node: '10.9.0.50', code: 'TM_ERR_DR_NOT_ON_LINK' },
      msg: /not on the director's L2 segment \(the route to it goes via 10\.9\.0\.254/,
    })
    t.match(errs[1], {
      obj: { node: '10.9.0.23' },
      msg: /port 8080 differs from the VIP port 80/,
    })
    // The same set again: no nft run, no repeated error, MACs from the cache.
    const neighBefore = counts['ip -j neigh show'] ?? 0
    await dp.update([
      be('10.9.0.21', 1),
      be('10.9.0.22', 1),
      be('10.9.0.50', 1),
      be('10.9.0.23', 1, 8080),
    ])
    t.equal(scripts.length, 2)
    t.equal(cap.logs.filter(l => l.level === 'error').length, 2)
    t.equal(counts['ip -j neigh show'], neighBefore)
    await dp.update([be('10.9.0.21', 1)])
    t.match(scripts[2], 'delete set netdev has_dr_10_9_0_100_80 f_10_9_0_22_80')
    await dp.close()
    t.equal(scripts.at(-1), 'delete table netdev has_dr_10_9_0_100_80\n')
    await dp.update([be('10.9.0.22', 1)])
    t.equal(scripts.length, 4, 'closed: updates ignored')
  },
)

t.test('kernel: missing CAP_NET_ADMIN is refused by nft and named', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('drc')
  t.teardown(() => lab.cleanup())
  const ns = await lab.add('m')
  await lab.ip(ns, [
    'link',
    'add',
    'eth0',
    'type',
    'veth',
    'peer',
    'name',
    'eth1',
  ])
  await lab.ip(ns, ['link', 'set', 'eth0', 'up'])
  const inNs = nsExec(ns)
  // nft as a process without capabilities, the way a unit without
  // AmbientCapabilities would run it.
  const noCap: Exec = (cmd, args, stdin) =>
    cmd === 'nft'
      ? inNs(
          'setpriv',
          [
            '--inh-caps=-all',
            '--bounding-set=-all',
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            cmd,
            ...args,
          ],
          stdin,
        )
      : inNs(cmd, args, stdin)
  await t.rejects(
    openDrDataPlane(
      spec,
      { logger: silentLogger() },
      { interface: 'eth0' },
      { hasNetAdmin: () => true, exec: noCap },
    ),
    { code: 'TM_ERR_DR_NO_CAP', message: /CAP_NET_ADMIN/ },
  )
})

t.test(
  'kernel: a node behind a router is named and left out; the others are programmed',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('drl')
    t.teardown(() => lab.cleanup())
    const ns = await lab.lan([
      ['m', '10.9.2.2/24'],
      ['n1', '10.9.2.21/24'],
    ] as const)
    // A second segment behind a router namespace.
    const far = await lab.add('far')
    await lab.veth(
      { ns: ns.n1, ifname: 'r0', addr: '10.9.3.1/24' },
      { ns: far, ifname: 'eth0', addr: '10.9.3.50/24' },
    )
    await lab.ip(ns.m, ['route', 'add', '10.9.3.0/24', 'via', '10.9.2.21'])
    const cap: Captured = { logs: [] }
    const dp = await openDrDataPlane(
      { name: '10.9.2.100:80', address: '10.9.2.100', port: 80, family: 4 },
      { logger: capturingLogger(cap) },
      {},
      { exec: nsExec(ns.m) },
    )
    t.teardown(() => dp.close())
    await dp.update([be('10.9.2.21', 1), be('10.9.3.50', 1)])
    const err = cap.logs.find(l => l.level === 'error')
    t.match(err, {
      obj: { node: '10.9.3.50', code: 'TM_ERR_DR_NOT_ON_LINK' },
      msg: /10\.9\.3\.50 is not on the director's L2 segment \(the route to it goes via 10\.9\.2\.21/,
    })
    const text = (
      await nsExec(ns.m)('nft', [
        'list',
        'table',
        'netdev',
        'has_dr_10_9_2_100_80',
      ])
    ).stdout
    t.match(text, /ether daddr set ([0-9a-f]{2}:){5}[0-9a-f]{2} fwd to "eth0"/)
    t.notMatch(text, /10_9_3_50/)
  },
)
