// Active/active in network namespaces: two haresources groups, each master
// holds its own VIP. A master "crashes" (kill -9 of heartbeatd, its links
// go down, and like a rebooted kernel it comes back without the VIP): the
// survivor holds both VIPs. When it returns, auto_failback decides whether
// its group goes home (on) or stays on the survivor (off).
// Same lab as netns.ts: masters and a client on a bridge, a direct
// heartbeat link, a service on every VIP in both masters (ip_nonlocal_bind)
// answering with the node name, so the client sees who owns each VIP.
// While the peer is down the survivor's heartbeatd is restarted once: its
// direct heartbeat link has no carrier then, and it must still come up.
// A sampler reads the masters' addresses all along: a VIP on two live
// masters at once fails the test.

import t, { type Test } from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NetnsLab, needsRoot, waitFor } from '@has/test-support'
import {
  runBin,
  spawnDaemon,
  spawnScript,
  type LogLine,
  type Proc,
} from '@has/test-support'

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures')
const NAMES = ['master1', 'master2'] as const
type Name = (typeof NAMES)[number]
/** Each group is named after its home node (haresources first word). */
const VIP: Record<Name, string> = {
  master1: '10.78.0.51',
  master2: '10.78.0.52',
}
const HB: Record<Name, string> = { master1: '10.78.1.1', master2: '10.78.1.2' }
const other = (n: Name): Name => (n === 'master1' ? 'master2' : 'master1')

interface Status {
  peerAlive: boolean
  groups: { name: string; state: string; holder: string | null }[]
  paths: { name: string; received: number }[]
}

t.test('active/active: failover and failback per auto_failback', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('aa')
  const procs: Proc[] = []
  let sampling = true
  let sampler: Promise<void> = Promise.resolve()
  t.teardown(async () => {
    sampling = false
    await sampler
    for (const p of procs) await p.stop('SIGKILL')
    await lab.cleanup()
  })

  const ns: Record<Name | 'client', string> = await lab.lan([
    ['master1', '10.78.0.1/24'],
    ['master2', '10.78.0.2/24'],
    ['client', '10.78.0.100/24'],
  ] as const)
  await lab.veth(
    { ns: ns.master1, ifname: 'eth1', addr: `${HB.master1}/24` },
    { ns: ns.master2, ifname: 'eth1', addr: `${HB.master2}/24` },
  )

  const child = (netns: string, script: string, args: string[]): Proc => {
    const p = spawnScript(join(FIX, script), args, { netns, stdio: 'pipe' })
    procs.push(p)
    return p
  }
  for (const n of NAMES) {
    await lab.exec(ns[n], 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1'])
    for (const g of NAMES)
      await child(ns[n], 'service.mjs', [VIP[g], '8080', n]).waitLog(
        l => l.msg === 'listening',
      )
  }

  /** VIPs configured on a master's eth0; none while the link is down. */
  const vipsOn = async (n: Name, evenIfDown = false): Promise<string[]> => {
    const [link] = JSON.parse(
      await lab.ip(ns[n], ['-j', 'addr', 'show', 'dev', 'eth0']),
    ) as { flags: string[]; addr_info: { local: string }[] }[]
    if (!link || (!evenIfDown && !link.flags.includes('UP'))) return []
    return link.addr_info
      .map(a => a.local)
      .filter(a => Object.values(VIP).includes(a))
  }
  const owners = async (vip: string): Promise<Name[]> => {
    const out: Name[] = []
    for (const n of NAMES) if ((await vipsOn(n)).includes(vip)) out.push(n)
    return out
  }
  // Reads A, B, A (then B, A, B): a VIP seen on A both before and after it
  // is seen on B was on both at once. A hand-over (stop, then start on the
  // other side) cannot produce that pattern.
  const doubles: string[] = []
  let samples = 0
  sampler = (async () => {
    for (let i = 0; sampling; i++) {
      const [x, y] = i % 2 ? (['master2', 'master1'] as const) : NAMES
      try {
        const x1 = await vipsOn(x)
        const y1 = await vipsOn(y)
        const x2 = await vipsOn(x)
        for (const v of y1)
          if (x1.includes(v) && x2.includes(v))
            doubles.push(`${v} on ${x} and ${y}`)
        samples++
      } catch (e) {
        if (sampling) doubles.push(`sampler: ${String(e)}`)
      }
      await new Promise(r => setTimeout(r, 50))
    }
  })()

  /** The first answer the client gets from the VIP's service. */
  const answerFrom = async (vip: string): Promise<unknown> => {
    const probe = child(ns.client, 'prober.mjs', [vip, '8080', '5', '15000'])
    try {
      return (await probe.waitLog(l => l.ok === true)).body
    } finally {
      await probe.stop('SIGKILL')
    }
  }

  const dir = mkdtempSync(join(tmpdir(), 'hbaa-'))
  const haresources = NAMES.map(g => `${g} ${VIP[g]}/24/eth0\n`).join('')

  const scenario = async (
    t: Test,
    failback: boolean,
    victim: Name,
    restartAlone = false,
  ): Promise<void> => {
    const survivor = other(victim)
    const base = join(dir, failback ? 'on' : 'off')
    const hb = {} as Record<Name, Proc>
    const ev = {} as Record<Name, Proc>
    const daemons: Proc[] = []
    const sock = (n: Name) => join(base, `${n}.sock`)
    const conf = (n: Name): string => {
      const d = join(base, n)
      mkdirSync(d, { recursive: true })
      writeFileSync(
        join(d, 'ha.cf'),
        [
          'keepalive 100ms',
          'deadtime 1',
          'warntime 500ms',
          'initdead 3',
          'deadping 1',
          'udpport 694',
          'bcast eth0',
          `ucast eth1 ${HB.master1}`,
          `ucast eth1 ${HB.master2}`,
          'node master1 master2',
          `auto_failback ${failback ? 'on' : 'off'}`,
          'ping 10.78.0.100',
          `state_dir ${d}/state`,
          '',
        ].join('\n'),
      )
      writeFileSync(join(d, 'haresources'), haresources)
      writeFileSync(join(d, 'authkeys'), 'auth 1\n1 sha1 aa-test-secret-long\n')
      chmodSync(join(d, 'authkeys'), 0o600)
      return join(d, 'ha.cf')
    }
    const start = async (n: Name): Promise<void> => {
      const p = spawnDaemon(
        'heartbeatd',
        ['--config', conf(n), '--node', n, '--control', sock(n)],
        { netns: ns[n], echo: !!process.env.HB_TEST_ECHO },
      )
      procs.push(p)
      daemons.push(p)
      hb[n] = p
      await p.waitLog(l => l.msg === 'heartbeat running')
      ev[n] = child(ns[n], 'listen.mjs', ['127.0.0.1', '6941'])
      await ev[n].waitLog(l => l.msg === 'SYNC')
    }
    /** Waits for an event line that arrives after this call. */
    const nextEvent = (n: Name, line: string) => {
      const p = ev[n]
      const from = p.logs.length
      return p.waitLog(l => p.logs.indexOf(l) >= from && l.msg === line)
    }
    /** Waits for an event line, from the snapshot or later. */
    const event = (n: Name, line: string) => ev[n].waitLog(l => l.msg === line)
    const status = async (n: Name): Promise<Status> => {
      const r = await runBin('heartbeatd', [
        'status',
        '--json',
        '--control',
        sock(n),
      ])
      if (r.code !== 0) throw new Error(`status ${n}: ${r.stderr}`)
      return JSON.parse(r.stdout) as Status
    }
    const holders = (s: Status) =>
      Object.fromEntries(s.groups.map(g => [g.name, g.holder]))
    /** ip addr in both masters, then the client through each VIP. */
    const expectOwners = async (
      want: Record<Name, Name>,
      what: string,
    ): Promise<void> => {
      for (const g of NAMES)
        t.same(
          await owners(VIP[g]),
          [want[g]],
          `${what}: ${VIP[g]} on ${want[g]} only`,
        )
      for (const g of NAMES)
        t.equal(
          await answerFrom(VIP[g]),
          want[g],
          `${what}: the client reaches ${want[g]} through ${VIP[g]}`,
        )
    }

    await Promise.all(NAMES.map(start))
    for (const n of NAMES)
      for (const g of NAMES) await event(n, `RESOURCE ${g} ${g}`)
    for (const n of NAMES)
      t.same(
        holders(await status(n)),
        { master1: 'master1', master2: 'master2' },
        `${n} status: each group on its home node`,
      )
    await expectOwners({ master1: 'master1', master2: 'master2' }, 'both up')

    // Crash: heartbeatd dies with the node's network; the VIP it held is
    // left on a dead link, as a powered-off box would.
    const dead = nextEvent(survivor, `NODE ${victim} dead`)
    const taken = nextEvent(survivor, `RESOURCE ${victim} ${survivor}`)
    await hb[victim].stop('SIGKILL')
    for (const i of ['eth0', 'eth1'])
      await lab.ip(ns[victim], ['link', 'set', i, 'down'])
    await dead
    await taken
    t.same(
      holders(await status(survivor)),
      { master1: survivor, master2: survivor },
      `${survivor} status: it holds both groups`,
    )
    await expectOwners(
      { master1: survivor, master2: survivor },
      `${victim} dead`,
    )

    if (restartAlone) {
      // The survivor's heartbeatd restarts while its peer is down: the
      // direct heartbeat link has no carrier, yet it must come up alone
      // and, after initdead, hold both groups again.
      const [eth1] = JSON.parse(
        await lab.ip(ns[survivor], ['-j', 'link', 'show', 'eth1']),
      ) as { flags: string[] }[]
      t.ok(eth1?.flags.includes('NO-CARRIER'), `${survivor} eth1: no carrier`)
      t.equal(await hb[survivor].stop('SIGTERM'), 0, 'graceful stop')
      await start(survivor)
      for (const g of NAMES) await event(survivor, `RESOURCE ${g} ${survivor}`)
      t.same(
        holders(await status(survivor)),
        { master1: survivor, master2: survivor },
        `${survivor} restarted alone and holds both groups`,
      )
      await expectOwners(
        { master1: survivor, master2: survivor },
        `${survivor} restarted alone`,
      )
    }

    // Return: the rebooted kernel has lost the VIP; links up, heartbeatd.
    for (const v of await vipsOn(victim, true))
      await lab.ip(ns[victim], ['addr', 'del', `${v}/24`, 'dev', 'eth0'])
    for (const i of ['eth0', 'eth1'])
      await lab.ip(ns[victim], ['link', 'set', i, 'up'])
    const back = nextEvent(survivor, `NODE ${victim} alive`)
    const home = failback
      ? nextEvent(survivor, `RESOURCE ${victim} ${victim}`)
      : undefined
    await start(victim)
    await back
    await event(victim, `NODE ${survivor} alive`)

    if (home) {
      await home
      await event(victim, `RESOURCE ${victim} ${victim}`)
      await event(victim, `RESOURCE ${survivor} ${survivor}`)
      for (const n of NAMES)
        t.same(
          holders(await status(n)),
          { master1: 'master1', master2: 'master2' },
          `${n} status: ${victim}'s group went home`,
        )
      await expectOwners(
        { master1: 'master1', master2: 'master2' },
        'failback on',
      )
    } else {
      await event(victim, `RESOURCE ${victim} ${survivor}`)
      await event(victim, `RESOURCE ${survivor} ${survivor}`)
      // Let the returned node hear the peer for twice deadtime (20 rounds
      // of 100 ms) before judging that it keeps its hands off.
      const seen = async () =>
        Math.max(...(await status(victim)).paths.map(p => p.received))
      const first = await seen()
      await waitFor(async () => (await seen()) >= first + 20, {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: `${victim} to hear 20 more heartbeat rounds`,
      })
      t.ok((await seen()) >= first + 20, 'returned node heard 20+ rounds')
      const vs = await status(victim)
      t.same(
        vs.groups.map(g => g.state),
        ['stopped', 'stopped'],
        `${victim} started nothing`,
      )
      const both = { master1: survivor, master2: survivor }
      t.same(holders(vs), both, `${victim} status: ${survivor} holds both`)
      t.same(
        holders(await status(survivor)),
        both,
        `${survivor} status: it still holds both`,
      )
      t.notOk(
        hb[victim].logs.some(
          l => l.msg === 'resource agent' && l.op === 'start',
        ),
        `${victim} never ran a start`,
      )
      await expectOwners(
        { master1: survivor, master2: survivor },
        'failback off',
      )
    }
    const split = (l: LogLine) => l.msg === 'both nodes hold the group'
    t.notOk(
      daemons.some(d => d.logs.some(split)),
      'no heartbeatd ever saw both nodes hold a group',
    )
    // The survivor's own group never moved once it was up.
    const own = ev[survivor].logs
      .map(l => l.msg)
      .filter(m => m?.startsWith(`RESOURCE ${survivor} `))
    const up = `RESOURCE ${survivor} ${survivor}`
    t.same(own.slice(own.indexOf(up)), [up], `${survivor}'s group stayed put`)

    // Graceful stop of both releases every VIP.
    for (const n of [victim, survivor])
      t.equal(await hb[n].stop('SIGTERM'), 0, `${n} exits 0`)
    for (const g of NAMES)
      t.same(await owners(VIP[g]), [], `${VIP[g]} released`)
  }

  await t.test('auto_failback on: the returning node takes its group home', t =>
    scenario(t, true, 'master1', true),
  )
  await t.test('auto_failback off: the survivor keeps both groups', t =>
    scenario(t, false, 'master2'),
  )

  sampling = false
  await sampler
  t.ok(samples > 10, `ownership sampled ${samples} times`)
  t.same(doubles, [], 'no VIP ever on two live masters at once')
})
