// The traffic path end to end with the real binaries on loopback:
// traffic-client reports -> traffic-manager's live table -> its userspace
// proxy -> node web servers. No root needed. Waits are bounded polls of the
// manager's `status` (or JSON log lines), never sleeps.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { createSocket, type Socket } from 'node:dgram'
import { runBin } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import {
  TrafficLab,
  get,
  keepAlive,
  metrics,
  nodeOf,
  type TmStatus,
} from './helpers/traffic-lab.js'

// Subtests run one after another: each starts 3-5 Node processes, and on
// a shared 2-core machine starting them side by side only starves them.
const svcNode = (s: TmStatus, svc: number, ip: string) => {
  const n = s.services[svc]?.nodes.find(x => x.address === ip)
  if (!n) throw new Error(`node ${ip} not in service ${svc}`)
  return n
}

interface Served {
  node: string
  at: number
}
/** Runs `fn` while `loops` clients send one-connection requests; counts results. */
async function underLoad<T>(
  port: number,
  loops: number,
  fn: (served: readonly Served[]) => Promise<T>,
) {
  let stop = false
  const served: Served[] = []
  const failures: string[] = []
  const deadline = Date.now() + 30_000
  const worker = async () => {
    // Bounded by count and time even if fn never returns.
    for (let i = 0; i < 5000 && !stop && Date.now() < deadline; i++) {
      try {
        served.push({ node: await get(port), at: Date.now() })
      } catch (e) {
        failures.push(String(e))
      }
    }
  }
  const workers = Array.from({ length: loops }, worker)
  try {
    const result = await fn(served)
    return { result, served, failures }
  } finally {
    stop = true
    await Promise.all(workers)
  }
}

t.test(
  'a node whose traffic-client is SIGKILLed leaves within timeout; no request fails',
  async t => {
    const lab = new TrafficLab({
      cpus: [2, 2, 2],
      schedulers: ['wrr'],
      ipBase: 41,
      timeoutMs: 1000,
    })
    t.teardown(() => lab.cleanup())
    await lab.startAll()
    const victim = lab.nodes[1]!
    const port = lab.vipPorts[0]!

    const { result, served, failures } = await underLoad(
      port,
      4,
      async served => {
        // Traffic reaches every node first.
        await lab.until(
          () => new Set(served.map(s => s.node)).size === 3,
          10_000,
          'all nodes served',
        )
        const before = served.length
        const killedAt = Date.now()
        await victim.client!.stop('SIGKILL')
        const st = await lab.until(
          s => nodeOf(s, victim.ip).state !== 'up',
          lab.timeoutMs + 4000,
          'victim leaves',
        )
        const leftAfterMs = Date.now() - killedAt
        const leftAt = Date.now()
        // Keep the load going until a good number of requests completed well
        // after it left (a count of completions alone can all land within the
        // first 50 ms on a fast machine).
        await lab.until(
          () => served.filter(s => s.at > leftAt + 50).length >= 30,
          15_000,
          '30 requests after it left',
        )
        return { st, leftAfterMs, leftAt, before }
      },
    )

    t.equal(
      failures.length,
      0,
      `no request failed (${served.length} served): ${failures.slice(0, 3).join('; ')}`,
    )
    t.ok(result.before > 0, 'requests were served before the kill')
    t.equal(
      nodeOf(result.st, victim.ip).state,
      'timeout',
      'victim state is timeout',
    )
    t.equal(
      svcNode(result.st, 0, victim.ip).eligible,
      false,
      'victim no longer eligible',
    )
    t.ok(
      result.leftAfterMs <= lab.timeoutMs + lab.updatesMs + 1500,
      `left ${result.leftAfterMs} ms after the kill (timeout ${lab.timeoutMs} ms)`,
    )
    // A request that completed >= 50 ms after we saw the state change was
    // scheduled after it (workers 0: one process decides and reports).
    const late = served.filter(s => s.at > result.leftAt + 50)
    t.ok(late.length >= 30, `${late.length} requests after it left`)
    t.equal(
      late.filter(s => s.node === victim.name).length,
      0,
      'none of them went to the victim',
    )
    // Its web server is alive: the node's next report brings it back.
    await lab.startClient(victim)
    await lab.until(
      s => nodeOf(s, victim.ip).state === 'up',
      5000,
      'victim back',
    )
    t.pass('a new traffic-client brings it back')
  },
)

t.test(
  'drain moves new connections away while an open one finishes',
  async t => {
    const lab = new TrafficLab({
      cpus: [2, 2],
      schedulers: ['wrr'],
      ipBase: 51,
      timeoutMs: 1000,
    })
    t.teardown(() => lab.cleanup())
    await lab.startAll()
    const port = lab.vipPorts[0]!
    const conn = await keepAlive(port)
    t.teardown(() => conn.close())
    const first = await conn.ask()
    const target = lab.nodes.find(n => n.name === first)
    t.ok(target, `the open connection goes to ${first}`)
    if (!target) return

    const r = await runBin('traffic-client', [
      'drain',
      '--control',
      target.control,
    ])
    t.equal(r.code, 0, `traffic-client drain exits 0 ${r.stderr}`)
    t.match(r.stdout + r.stderr, /drain/, 'and says so')
    const st = await lab.until(
      s => nodeOf(s, target.ip).state === 'drain',
      5000,
      'node drains',
    )
    t.equal(nodeOf(st, target.ip).load, 0, 'drain reports load 0')
    t.equal(
      svcNode(st, 0, target.ip).eligible,
      false,
      'drained node takes no new connections',
    )
    t.equal(
      svcNode(st, 0, target.ip).active,
      1,
      'the open connection still counts as active',
    )

    const fresh: string[] = []
    for (let i = 0; i < 30; i++) fresh.push(await get(port))
    t.equal(
      fresh.filter(n => n === target.name).length,
      0,
      'all 30 new connections avoid the drained node',
    )
    t.equal(
      await conn.ask(),
      target.name,
      'the open connection still works, on the same node',
    )
    t.equal(await conn.ask(), target.name, 'and again')
    conn.close()
    await lab.until(
      s => svcNode(s, 0, target.ip).active === 0,
      5000,
      'connection closed',
    )

    const r2 = await runBin('traffic-client', [
      'resume',
      '--control',
      target.control,
    ])
    t.equal(r2.code, 0, `traffic-client resume exits 0 ${r2.stderr}`)
    await lab.until(
      s => nodeOf(s, target.ip).state === 'up',
      5000,
      'node up again',
    )
    const again = new Set<string>()
    for (let i = 0; i < 10; i++) again.add(await get(port))
    t.ok(again.has(target.name), 'resume brings new connections back')
  },
)

t.test(
  'a restarted traffic-manager rebuilds its table from reports within one interval',
  async t => {
    const lab = new TrafficLab({
      cpus: [1, 2],
      schedulers: ['wrr'],
      ipBase: 61,
      timeoutMs: 1500,
      updatesMs: 300,
    })
    t.teardown(() => lab.cleanup())
    await lab.startAll()
    // Drain one node so the table holds more than "everything up".
    const drained = lab.nodes[0]!
    await runBin('traffic-client', ['drain', '--control', drained.control])
    const before = await lab.until(
      s => nodeOf(s, drained.ip).state === 'drain',
      5000,
      'drain',
    )
    const table = (s: TmStatus) =>
      s.services[0]!.nodes.map(n => ({
        address: n.address,
        state: n.state,
        load: n.load,
        weight: n.weight,
        eligible: n.eligible,
      }))

    t.equal(await lab.tm!.stop('SIGTERM'), 0, 'traffic-manager stops cleanly')
    const tm = await lab.startManager()
    const readyAt = Date.now()
    const after = await lab.until(
      s => JSON.stringify(table(s)) === JSON.stringify(table(before)),
      lab.updatesMs + 5000,
      'table rebuilt',
    )
    const took = Date.now() - readyAt
    t.same(
      table(after),
      table(before),
      'same states, loads, weights as before the restart',
    )
    // One interval plus a margin for a loaded CI machine (2 cores, many suites).
    t.ok(
      took <= lab.updatesMs + 2500,
      `rebuilt in ${took} ms after ready (interval ${lab.updatesMs} ms)`,
    )
    t.ok(
      tm.logs.some(l => l.msg === 'node state changed'),
      'the new manager learnt the nodes from reports',
    )
    const served = new Set<string>()
    for (let i = 0; i < 12; i++) served.add(await get(lab.vipPorts[0]!))
    t.notOk(
      served.has(drained.name),
      `the rebuilt table keeps the drained node out (${[...served].join(' ')})`,
    )
  },
)

t.test(
  'a forged or replayed report changes nothing and is counted',
  async t => {
    // node1 reports through a UDP relay we own, which sees exactly what the
    // manager gets (and can hold one datagram back); node2 reports to the
    // manager and to a second "master" that is our socket.
    const forwarded: Buffer[] = []
    const crossCaptured: Buffer[] = []
    let holdNext = false
    let held: Buffer | undefined
    const relay = createSocket('udp4')
    const capture = createSocket('udp4')
    const bind = (s: Socket) =>
      new Promise<number>(r =>
        s.bind(0, '127.0.0.1', () => r(s.address().port)),
      )
    const relayPort = await bind(relay)
    const capturePort = await bind(capture)
    const lab = new TrafficLab({
      cpus: [2, 2],
      schedulers: ['wrr'],
      ipBase: 71,
      timeoutMs: 30_000,
      updatesMs: 100,
      mastersFor: (_n, i) =>
        i === 0
          ? [`127.0.0.1:${relayPort}`]
          : ['127.0.0.1', `127.0.0.1:${capturePort}`],
    })
    t.teardown(async () => {
      relay.close()
      capture.close()
      await lab.cleanup()
    })
    const seqOf = (b: Buffer) => Number(b.toString().split(' ')[7])
    const handedOn = new Set<number>()
    relay.on('message', m => {
      if (holdNext && / up tc /.test(m.toString())) {
        holdNext = false
        held = m
        return
      }
      forwarded.push(m)
      // Seqs of node1's datagrams handed on to the manager's socket.
      relay.send(m, lab.reportPort, '127.0.0.1', () => handedOn.add(seqOf(m)))
    })
    capture.on('message', m => crossCaptured.push(m))
    await lab.startAll()
    const [n1, n2] = lab.nodes as [(typeof lab.nodes)[0], (typeof lab.nodes)[0]]
    // One `up` report of node1 never reaches the manager (as if lost).
    holdNext = true
    await lab.until(() => held !== undefined, 5000, 'one datagram held back')

    // Drain then pause both: the table holds `drain` and no report moves it
    // (timeout 30 s), so any datagram accepted below would show.
    for (const n of [n1, n2]) {
      t.equal(
        (await runBin('traffic-client', ['drain', '--control', n.control]))
          .code,
        0,
        `${n.name} drain`,
      )
      t.equal(
        (await runBin('traffic-client', ['pause', '--control', n.control]))
          .code,
        0,
        `${n.name} pause`,
      )
    }
    // A pause says `drain` once before it answers. Node1's last datagram
    // (the last seq its client sent) must have been handed on by the relay
    // and node2's seen by our capture socket (sent in the same call as the
    // copy to the manager): then both are queued in the manager's socket,
    // which it reads before it can read a control request made after.
    const lastSeq = async (control: string) =>
      ((await controlRequest(control, 'status')) as { seq: number }).seq
    const [seq1, seq2] = [await lastSeq(n1.control), await lastSeq(n2.control)]
    await lab.until(
      () => handedOn.has(seq1) && crossCaptured.some(b => seqOf(b) === seq2),
      5000,
      "both pauses' drain reports on their way to the manager",
    )
    const base = await lab.until(
      s =>
        nodeOf(s, n1.ip).state === 'drain' &&
        nodeOf(s, n2.ip).state === 'drain',
      5000,
      'both drained',
    )
    const ups = (bufs: Buffer[]) =>
      bufs.map(b => b.toString()).filter(l => / up tc /.test(l))
    const real = ups(forwarded).at(-1)
    t.ok(real, `the manager got this real report: ${real?.slice(0, 60)}`)
    const dropped = (s: TmStatus, k: string) => s.reports.dropped[k] ?? 0
    const send = (line: string | Buffer) =>
      new Promise<void>((res, rej) =>
        relay.send(line, lab.reportPort, '127.0.0.1', e =>
          e ? rej(e) : res(),
        ),
      )

    // Forged: well-formed, fresh epoch, MAC made with the wrong key; and unsigned.
    const body = `LOAD 1 ${n1.ip} 999999 up tc ${Date.now() + 1000} 1`
    const mac = createHmac('sha256', 'not-the-shared-key-at-all')
      .update(body)
      .digest('hex')
    await send(`${body} mac=${mac}`)
    await send(`LOAD 1 ${n1.ip} 999999 up tc ${Date.now() + 2000} 1`)
    let s = await lab.until(
      s =>
        dropped(s, 'TM_ERR_REPORT_MAC') >=
        dropped(base, 'TM_ERR_REPORT_MAC') + 2,
      5000,
      'forged counted',
    )
    t.equal(
      nodeOf(s, n1.ip).state,
      'drain',
      'forged report: node1 still drained',
    )
    t.equal(nodeOf(s, n1.ip).load, 0, 'forged report: load unchanged')

    // Replayed: the exact datagram the manager accepted earlier.
    await send(real!)
    s = await lab.until(
      s =>
        dropped(s, 'TM_ERR_REPORT_REPLAY') >=
        dropped(base, 'TM_ERR_REPORT_REPLAY') + 1,
      5000,
      'replay counted',
    )
    t.equal(
      nodeOf(s, n1.ip).state,
      'drain',
      'replayed report: node1 still drained',
    )
    t.equal(nodeOf(s, n1.ip).load, 0, 'replayed report: load unchanged')
    t.equal(
      s.reports.accepted,
      base.reports.accepted,
      'no report accepted since the pause',
    )

    const text = await metrics(lab.metricsPort)
    t.match(
      text,
      /tm_reports_dropped_total\{reason="TM_ERR_REPORT_MAC"\} [2-9]/,
      'metrics count the forged reports',
    )
    t.match(
      text,
      /tm_reports_dropped_total\{reason="TM_ERR_REPORT_REPLAY"\} [1-9]/,
      'metrics count the replay',
    )

    const total = (x: TmStatus) =>
      x.reports.accepted +
      Object.values(x.reports.dropped).reduce((a, b) => a + b, 0)
    // A genuine datagram the manager never got, older than the `drain` it did get.
    t.ok(held, 'held back one real up report')
    let before = await lab.status()
    await send(held!)
    s = await lab.until(
      x => total(x) > total(before),
      5000,
      'held datagram handled',
    )
    t.equal(
      nodeOf(s, n1.ip).state,
      'drain',
      'an older report delivered late: node1 still drained',
    )
    t.equal(nodeOf(s, n1.ip).load, 0, 'and its load unchanged')
    // Late if within the 64-number window of the newest one, else (a very slow
    // machine) too old for the window: a replay.
    const gap = Math.max(...forwarded.map(seqOf)) - seqOf(held!)
    const reason = gap < 64 ? 'TM_ERR_REPORT_LATE' : 'TM_ERR_REPORT_REPLAY'
    t.ok(
      gap > 0,
      `the held datagram is ${gap} behind the newest the manager got`,
    )
    t.equal(
      dropped(s, reason),
      dropped(before, reason) + 1,
      `counted as ${reason}`,
    )

    // A datagram node2 sent to another master, replayed to this one.
    const cross = ups(crossCaptured).at(-1)
    t.ok(cross, 'captured a report node2 sent to another master')
    before = await lab.status()
    await send(cross!)
    s = await lab.until(
      x => total(x) > total(before),
      5000,
      'cross-master datagram handled',
    )
    t.equal(
      nodeOf(s, n2.ip).state,
      'drain',
      'a copy meant for another master: node2 still drained',
    )
    t.equal(s.reports.accepted, before.reports.accepted, 'and not accepted')
    // Every master gets the same datagram for a round: this master already had this one.
    t.equal(
      dropped(s, 'TM_ERR_REPORT_REPLAY'),
      dropped(before, 'TM_ERR_REPORT_REPLAY') + 1,
      'counted as a replay',
    )
  },
)

t.test('distribution follows capacity with wrr and has', async t => {
  const lab = new TrafficLab({
    cpus: [1, 2, 4],
    schedulers: ['wrr', 'has'],
    ipBase: 81,
    workers: 1,
  })
  t.teardown(() => lab.cleanup())
  await lab.startAll()
  const st = await lab.until(
    s => s.services.every(v => v.nodes.every(n => n.weight > 0 && n.eligible)),
    5000,
    'weights set',
  )
  const loads = lab.nodes.map(n => nodeOf(st, n.ip).load)
  t.ok(
    loads[0]! < loads[1]! && loads[1]! < loads[2]!,
    `load indexes follow capacity: ${loads.join(' < ')}`,
  )

  const N = 140
  const count = async (port: number) => {
    const c = new Map<string, number>(lab.nodes.map(n => [n.name, 0]))
    let next = 0
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < N) {
          next++
          const node = await get(port)
          c.set(node, (c.get(node) ?? 0) + 1)
        }
      }),
    )
    return lab.nodes.map(n => (c.get(n.name) ?? 0) / N)
  }

  const wrr = await count(lab.vipPorts[0]!)
  t.ok(
    wrr[0]! < wrr[1]! && wrr[1]! < wrr[2]!,
    `wrr shares ordered by capacity: ${wrr.map(x => x.toFixed(2)).join(' ')}`,
  )
  const expected = [1 / 7, 2 / 7, 4 / 7]
  wrr.forEach((x, i) =>
    t.ok(
      Math.abs(x - expected[i]!) < 0.1,
      `wrr node${i + 1} share ${x.toFixed(2)} ~ ${expected[i]!.toFixed(2)}`,
    ),
  )

  const has = await count(lab.vipPorts[1]!)
  t.ok(
    has[0]! <= has[1]! && has[1]! <= has[2]!,
    `has shares ordered by capacity: ${has.map(x => x.toFixed(2)).join(' ')}`,
  )
  t.ok(
    has[2]! >= 0.8,
    'has sends (nearly) everything to the least busy node between reports',
  )
})
