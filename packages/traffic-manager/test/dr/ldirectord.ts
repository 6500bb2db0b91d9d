// ldirectord on the direct-routing plane (root only): a client, a master
// (traffic-manager, `dataplane nftables-dr`) and three nodes (web server,
// traffic-client set up by `dr-node --setup`) on one bridge, in namespaces
// made here. Node 1's application stops accepting (its listener closes, its
// open connections stay); ldirectord, in director mode on the master or in
// HAS mode on the node, drains the node: new flows stop reaching it while
// the streams it already holds keep going.
import t, { type Test } from 'tap'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeProcfsFixture } from '@has/traffic-client'
import { needsRoot, waitFor } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import {
  run,
  spawnDaemon,
  binPath,
  type Proc,
  type LogLine,
} from '@has/test-support'
import { DrLab, V4, streams, tally } from './helpers/lab.js'

const KEY = 'dr-ldirectord-test-shared-key-1'
const NODES = ['n1', 'n2', 'n3'] as const
type NodeName = (typeof NODES)[number]

interface Cluster {
  readonly lab: DrLab
  readonly dir: string
  readonly tm: Proc
  readonly tmSock: string
  readonly web: Record<NodeName, Proc>
  readonly tcSock: (n: NodeName) => string
  readonly keyFile: string
}

/** The DR cluster with one master: every node eligible and programmed. */
async function cluster(t: Test, tag: string): Promise<Cluster> {
  const lab = new DrLab(V4, tag)
  const dir = mkdtempSync(join(tmpdir(), 'has-dr-ld-'))
  t.teardown(async () => {
    await lab.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })
  await lab.setUp(false)
  const { ns } = lab
  for (const n of NODES) {
    const r = await run('ip', [
      'netns',
      'exec',
      ns[n],
      process.execPath,
      binPath('traffic-client'),
      'dr-node',
      '--setup',
      V4.vip,
    ])
    t.equal(r.code, 0, `${n} set up: ${r.stderr.trim()}`)
  }
  await lab.vipTo('a')
  const keyFile = join(dir, 'report.key')
  writeFileSync(keyFile, `${KEY}\n`)
  chmodSync(keyFile, 0o600)
  const tmConf = join(dir, 'tmd.conf')
  writeFileSync(
    tmConf,
    [
      `master1 ${V4.a}`,
      ...V4.nodes.map((n, i) => `traffic${i + 1} ${n}`),
      'port 7070',
      'listen 0.0.0.0',
      'timeout 1500',
      `key ${KEY}`,
      'shutdown-deadline 1s',
      `virtual ${V4.vip}:80`,
      '    dataplane nftables-dr',
      ...V4.nodes.map(n => `    node ${n}:80`),
      '',
    ].join('\n'),
  )
  const tmSock = join(dir, 'tm.sock')
  const tm = spawnDaemon(
    'traffic-manager',
    ['--config', tmConf, '--control', tmSock],
    { netns: ns.a },
  )
  lab.procs.push(tm)
  await tm.waitLog(l => l.msg === 'traffic-manager ready', 30_000)

  const web = {} as Record<NodeName, Proc>
  const tcSock = (n: NodeName): string => join(dir, `${n}.sock`)
  for (const [i, n] of NODES.entries()) {
    web[n] = await lab.server(n)
    const d = join(dir, n)
    mkdirSync(d, { recursive: true })
    writeProcfsFixture(join(d, 'proc'), {
      bogomips: 4000,
      cpus: 2,
      memTotalMB: 4096,
      memFreeMB: 3000,
      idleShare: 0.9,
    })
    writeFileSync(
      join(d, 'tcd.conf'),
      [
        `master1 ${V4.a}`,
        'port 7070',
        'updates 200',
        `key ${KEY}`,
        `node ${V4.nodes[i]}`,
        '',
      ].join('\n'),
    )
    lab.procs.push(
      spawnDaemon(
        'traffic-client',
        [
          '--config',
          join(d, 'tcd.conf'),
          '--procfs',
          join(d, 'proc'),
          '--control',
          tcSock(n),
        ],
        { netns: ns[n] },
      ),
    )
  }
  await tm.waitLog(
    programmed(n => n.length === 3 && n.every(x => !x.includes('/0@'))),
    20_000,
  )
  return { lab, dir, tm, tmSock, web, tcSock, keyFile }
}

/** `direct-routing table programmed` whose node list (host/weight@mac) passes. */
const programmed =
  (pred: (nodes: readonly string[]) => boolean) =>
  (l: LogLine): boolean =>
    l.msg === 'direct-routing table programmed' &&
    Array.isArray(l.nodes) &&
    pred(l.nodes as string[])
const n1Drained = programmed(n =>
  n.some(x => x.startsWith(`${V4.nodes[0]}/0@`)),
)

/**
 * Streams open on every node, node 1's application fails, ldirectord (started
 * by `startLd`) drains it; then: no new connection through the VIP reaches
 * node 1, and every stream (node 1's included) still answers from its node.
 */
async function drainsOnAppFailure(
  t: Test,
  c: Cluster,
  startLd: () => Promise<Proc>,
): Promise<void> {
  const answers = new Set<string>()
  for (let i = 0; i < 30 && answers.size < 3; i++)
    answers.add(await c.lab.curl())
  t.same(
    [...answers].sort(),
    ['n1', 'n2', 'n3'],
    'HTTP through the VIP reaches all three nodes',
  )
  const s = await streams(c.lab, 120)
  const first = await s.round()
  t.equal(first.filter(n => n === null).length, 0, '120 streams open')
  t.ok((tally(first).n1 ?? 0) > 0, `node 1 holds streams (${tally(first).n1})`)

  const ld = await startLd()
  c.web.n1.child.kill('SIGUSR2')
  await c.web.n1.waitLog(l => l.msg === 'not listening')
  await c.tm.waitLog(n1Drained, 20_000)

  const fresh: string[] = []
  for (let i = 0; i < 30; i++) fresh.push(await c.lab.curl())
  t.same(
    [...new Set(fresh)].sort(),
    ['n2', 'n3'],
    'every new connection after the drain is answered, none by node 1',
  )
  t.same(
    await s.round(),
    first,
    "every established stream, node 1's included, keeps going on its node",
  )
  s.p.child.stdin?.end()
  t.equal(await ld.stop(), 0, 'ldirectord stops cleanly')
}

t.test(
  'director mode on the master: a failed app drains its node on the DR plane',
  async t => {
    if (!needsRoot(t)) return
    const c = await cluster(t, 'drld')
    const cf = join(c.dir, 'ldirectord.cf')
    writeFileSync(
      cf,
      [
        'checkinterval = 0.5',
        'checktimeout = 1',
        'failurecount = 2',
        `trafficmanagercontrol = ${c.tmSock}`,
        `virtual = ${V4.vip}:80`,
        ...V4.nodes.map(n => `    real = ${n}:80 gate`),
        '    service = http',
        '    request = "index.html"',
        '    receive = "^n[123]"',
        '',
      ].join('\n'),
    )
    await drainsOnAppFailure(t, c, async () => {
      const ld = spawnDaemon(
        'ldirectord',
        ['-c', cf, '--control', join(c.dir, 'ld.sock')],
        { netns: c.lab.ns.a },
      )
      c.lab.procs.push(ld)
      await ld.waitLog(
        l =>
          l.msg === 'weight set' &&
          l.node === V4.nodes[0] &&
          l.weight === 'auto',
      )
      return ld
    })
    t.ok(
      c.tm.logs.some(
        l =>
          l.msg === 'weight override' &&
          l.node === V4.nodes[0] &&
          l.weight === '0',
      ),
      'the drain came from ldirectord (weight 0)',
    )
  },
)

t.test(
  'HAS mode on the node: a failed app drains its node on the DR plane',
  async t => {
    if (!needsRoot(t)) return
    const c = await cluster(t, 'drldh')
    const cf = join(c.dir, 'ld-has.cf')
    writeFileSync(
      cf,
      [
        'checkinterval = 0.5',
        'checktimeout = 1',
        'failurecount = 2',
        'hasmode = yes',
        `nodeaddress = ${V4.nodes[0]}`,
        `trafficmanager = ${V4.a}:7070`,
        `trafficclientcontrol = ${c.tcSock('n1')}`,
        `reportkeyfile = ${c.keyFile}`,
        `virtual = ${V4.vip}:80`,
        `    real = ${V4.nodes[0]}:80 gate`,
        '    service = http',
        '    request = "index.html"',
        '    receive = "^n1"',
        '',
      ].join('\n'),
    )
    await drainsOnAppFailure(t, c, async () => {
      const ld = spawnDaemon(
        'ldirectord',
        ['-c', cf, '--control', join(c.dir, 'ld-has.sock')],
        { netns: c.lab.ns.n1 },
      )
      c.lab.procs.push(ld)
      await ld.waitLog(l => l.msg === 'real server up')
      return ld
    })
    // ldirectord pauses the traffic-client first, whose last report says
    // drain; ldirectord's own drains (sender ld) then hold the node there.
    const entry = await waitFor(
      async () => {
        const s = (await controlRequest(c.tmSock, 'status')) as {
          nodes: { address: string; state: string; sender: string | null }[]
        }
        const n = s.nodes.find(x => x.address === V4.nodes[0])
        return n?.state === 'drain' && n.sender === 'ld' && n
      },
      { what: `${V4.nodes[0]} drained by a report of ldirectord's` },
    )
    t.ok(
      entry,
      "the drain is held by ldirectord's reports (state drain, sender ld)",
    )
  },
)
