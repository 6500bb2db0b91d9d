// Two daemons in-process on loopback. Seam: the Kernel interface is a
// recording fake here (the real conntrack path runs in
// integration/failover.ts); sockets, codec, auth and resync are real.
import { captureLogger, waitFor } from '@has/test-support'
import t from 'tap'
import { createSocket } from 'node:dgram'
import { silentLogger, configOrThrow } from '@has/daemon-kit'
import { createConnSyncd, type ResolvedConfig } from '../src/conn-syncd.js'
import { parseConfig } from '../src/config.js'
import type { Kernel } from '../src/kernel.js'
import type { ConntrackRow, KernelOp } from '../src/conntrack.js'
import type { Flow } from '../src/flow.js'

const VIP = '10.0.0.100'
const flow = (sport: number): Flow => ({
  family: 4,
  proto: 6,
  src: '10.0.0.1',
  dst: VIP,
  sport,
  dport: 80,
  natDst: '10.0.0.21',
  natDport: 8080,
  natSrc: VIP,
  natSport: sport,
  timeout: 60,
})

class FakeKernel implements Kernel {
  onRow: (r: ConntrackRow) => void = () => undefined
  table: Flow[] = []
  ops: string[] = []
  #waiters: (() => void)[] = []
  follow(onRow: (r: ConntrackRow) => void) {
    this.onRow = onRow
  }
  async dump() {
    return this.table.map(flow => ({
      event: 'LIST' as const,
      state: 'ESTABLISHED',
      unreplied: false,
      flow,
    }))
  }
  note(op: string) {
    this.ops.push(op)
    for (const w of this.#waiters.splice(0)) w()
  }
  async insert(f: Flow) {
    this.note(`insert ${f.sport}`)
    return true
  }
  async remove(f: Pick<Flow, 'sport'>) {
    this.note(`remove ${f.sport}`)
    return true
  }
  async apply(ops: readonly KernelOp[]) {
    const out: boolean[] = []
    for (const k of ops)
      out.push(
        k.op === 'replace'
          ? await this.insert(k.flow)
          : await this.remove(k.flow),
      )
    return out
  }
  async purge(services: readonly { dst: string; dport: number }[]) {
    for (const sv of services) this.note(`purge ${sv.dst}:${sv.dport}`)
    return 0
  }
  close() {}
  /** A connection the kernel shows as established (table and event). */
  established(f: Flow) {
    this.table = [f]
    this.onRow({
      event: 'NEW',
      state: 'ESTABLISHED',
      unreplied: false,
      flow: f,
    })
  }
  async until(pred: (ops: string[]) => boolean) {
    while (!pred(this.ops)) await new Promise<void>(r => this.#waiters.push(r))
  }
}

const conf = (node: string, ...peerPorts: number[]): ResolvedConfig => ({
  ...configOrThrow(
    parseConfig(
      `node ${node}\nlisten 127.0.0.1:0\n${peerPorts.map(p => `peer 127.0.0.1:${p}\n`).join('')}auth-key secret-key-1\nservice ${VIP}:80\nsync-threshold 0\nrefresh-interval 1h\nentry-timeout 2h\n`,
    ),
  ),
  key: 'secret-key-1',
})

t.test(
  "a VIP that moves away takes this host's own entries with it; the held flows go in again",
  async t => {
    // Where the VIP is: 'x' or 'y'.
    let vip: 'x' | 'y' = 'y'
    const kx = new FakeKernel()
    const ky = new FakeKernel()
    const xLog = captureLogger('conn-syncd')
    // x's clock can stand still: a VIP away for no time at all is a bounce.
    let frozen: number | undefined
    const x = await createConnSyncd({
      config: conf('x', 9),
      logger: xLog.logger,
      now: () => frozen ?? Date.now(),
      kernel: kx,
      isLocal: ip => ip === VIP && vip === 'x',
    })
    t.teardown(() => x.close())
    const y = await createConnSyncd({
      config: conf('y', x.address.port),
      logger: silentLogger(),
      kernel: ky,
      isLocal: ip => ip === VIP && vip === 'y',
    })
    t.teardown(() => y.close())
    await x.reload(conf('x', y.address.port))

    // y forwards a flow: x holds it and inserts it.
    ky.established(flow(1000))
    await kx.until(ops => ops.includes('insert 1000'))
    // The VIP comes to x (its turn as the active master): nothing purged.
    const logged = (prefix: string): number =>
      xLog.lines.filter(l => String(l.msg).startsWith(prefix)).length
    vip = 'x'
    await waitFor(() => logged('VIP arrived') === 1, {
      what: 'x to see the VIP arrive',
    })
    const mark = kx.ops.length
    // A bounce: the VIP leaves and comes back before MOVED_AFTER_MS has
    // passed (on x's clock, stopped here): x keeps its entries.
    frozen = Date.now()
    vip = 'y'
    await waitFor(() => logged('VIP left') === 1, {
      what: 'x to see the VIP leave',
    })
    vip = 'x'
    await waitFor(() => logged('VIP arrived') === 2, {
      what: 'x to see the VIP come back',
    })
    frozen = undefined
    t.notOk(
      kx.ops.slice(mark).some(o => o.startsWith('purge')),
      'a bounce purges nothing',
    )
    // x forwarded a flow whose events it never read (a stall): only its
    // hand-over, a dump sent when the VIP leaves, can tell y.
    kx.table = [flow(4000)]
    // It goes back to y for good: x's own entries of the VIP's flows go, and the
    // flow x holds for y is inserted again (not merely refreshed).
    vip = 'y'
    await kx.until(ops => ops.slice(mark).includes(`purge ${VIP}:80`))
    await kx.until(ops => {
      const after = ops.slice(mark)
      return after.indexOf('insert 1000') > after.indexOf(`purge ${VIP}:80`)
    })
    t.pass('purged the moved VIP, then inserted the held flow again')
    await waitFor(() => ky.ops.includes('insert 4000'), {
      what: "y to insert the flow from x's hand-over",
    })
    t.pass("y, taking the VIP over, inserted the flow from x's hand-over")
    const purges = (ops: string[]): number =>
      ops.filter(o => o.startsWith('purge')).length
    t.equal(
      purges(kx.ops.slice(0, mark)),
      1,
      "before: only the start's purge (the VIP was y's); none when it came",
    )
    t.equal(purges(kx.ops.slice(mark)), 1, 'one purge for the move away')
  },
)

t.test(
  'flows go from the VIP holder to the peer kernel; resync on start',
  async t => {
    const ka = new FakeKernel()
    const kb = new FakeKernel()
    const a = await createConnSyncd({
      config: conf('a', 9),
      logger: silentLogger(),
      kernel: ka,
      isLocal: ip => ip === VIP,
    })
    t.teardown(() => a.close())
    const b = await createConnSyncd({
      config: conf('b', a.address.port),
      logger: silentLogger(),
      kernel: kb,
      isLocal: () => false,
    })
    t.teardown(() => b.close())
    await a.reload(conf('a', b.address.port))

    // A new connection on a, past the threshold: b inserts it.
    ka.established(flow(1000))
    await kb.until(ops => ops.includes('insert 1000'))

    // The connection ends: b removes it.
    ka.onRow({ event: 'DESTROY', unreplied: false, flow: flow(1000) })
    await kb.until(ops => ops.includes('remove 1000'))
    ka.table = [flow(2000), flow(2001)]

    // A third master starts empty and asks for a resync: it gets a's table.
    const kc = new FakeKernel()
    const c = await createConnSyncd({
      config: conf('c', a.address.port),
      logger: silentLogger(),
      kernel: kc,
      isLocal: () => false,
    })
    t.teardown(() => c.close())
    // Peers are configured on both sides; a learns of c by a reload.
    await a.reload(conf('a', b.address.port, c.address.port))
    ;(c.commands?.resync as () => unknown)()
    await kc.until(
      ops => ops.includes('insert 2000') && ops.includes('insert 2001'),
    )
    t.ok(a.status().resyncServed >= 1)

    // Garbage and forged datagrams are counted and dropped.
    const s = createSocket('udp4')
    t.teardown(() => s.close())
    const before = b.status().dropped
    await new Promise<void>(r =>
      s.send(
        Buffer.from(
          'HCS1 not a real datagram, long enough to pass the length check........',
        ),
        b.address.port,
        '127.0.0.1',
        () => r(),
      ),
    )
    await waitFor(() => b.status().dropped !== before, {
      what: 'the garbage datagram to be counted as dropped',
    })
    t.equal(b.status().dropped, before + 1)
    const text = await b.metrics.registry.metrics()
    t.match(text, /conn_syncd_datagrams_dropped_total\{reason="auth"\} 1/)
    const st = b.status()
    t.same(
      st.peers.map(p => p.name),
      ['a'],
    )
  },
)

t.test(
  'a removal waits for the insert it cancels (no ESTABLISHED entry left behind)',
  async t => {
    const ka = new FakeKernel()
    let release: () => void = () => undefined
    const gate = new Promise<void>(r => (release = r))
    class SlowKernel extends FakeKernel {
      override async insert(f: Flow) {
        this.note(`insert ${f.sport}`)
        await gate
        this.note(`inserted ${f.sport}`)
        return true
      }
    }
    const kb = new SlowKernel()
    const a = await createConnSyncd({
      config: conf('a', 9),
      logger: silentLogger(),
      kernel: ka,
      isLocal: ip => ip === VIP,
    })
    t.teardown(() => a.close())
    const b = await createConnSyncd({
      config: conf('b', a.address.port),
      logger: silentLogger(),
      kernel: kb,
      isLocal: () => false,
    })
    t.teardown(() => b.close())
    await a.reload(conf('a', b.address.port))
    const flows = b.commands?.flows as () => {
      sport: number
      inKernel: boolean
    }[]

    ka.table = [flow(3000)]
    ka.onRow({
      event: 'NEW',
      state: 'ESTABLISHED',
      unreplied: false,
      flow: flow(3000),
    })
    await kb.until(ops => ops.includes('insert 3000'))
    t.same(
      flows().map(f => [f.sport, f.inKernel]),
      [[3000, false]],
      'held, not yet in the kernel',
    )
    ka.table = []
    ka.onRow({ event: 'DESTROY', unreplied: false, flow: flow(3000) })
    // The removal is applied to the held table at once...
    await waitFor(() => flows().length === 0, {
      what: 'the held flow to leave the table',
      intervalMs: 10,
    })
    t.equal(
      kb.ops.filter(o => o === 'remove 3000').length,
      0,
      '...but not to the kernel while the insert runs',
    )
    release()
    await kb.until(
      ops =>
        ops.lastIndexOf('remove 3000') > ops.indexOf('inserted 3000') &&
        ops.includes('inserted 3000'),
    )
    t.pass('the kernel entry is deleted after the insert completes')
  },
)

t.test(
  'userspace proxy: persistence entries go from the VIP holder to the peer proxy',
  async t => {
    const { startControlServer } = await import('@has/daemon-kit')
    const { mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const dir = mkdtempSync(`${tmpdir()}/cs-persist-`)
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const svc = `${VIP}:80`
    // traffic-manager on a (VIP holder) lists one client; on b it records persist-set.
    const pa = await startControlServer({
      address: `${dir}/a.sock`,
      handlers: {
        'persist-list': () => [
          {
            service: svc,
            client: '10.0.0.1',
            node: '10.0.0.22',
            expiresInMs: 30_500,
          },
        ],
      },
    })
    t.teardown(() => pa.close())
    const sets: string[][] = []
    let got: () => void = () => undefined
    const gotOne = new Promise<void>(r => (got = r))
    const pb = await startControlServer({
      address: `${dir}/b.sock`,
      handlers: {
        'persist-set': args => (sets.push(args), got(), { ok: true }),
      },
    })
    t.teardown(() => pb.close())
    const withProxy = (c: ResolvedConfig, sock: string): ResolvedConfig => ({
      ...c,
      proxyControl: sock,
      proxyPollMs: 200,
    })
    const a = await createConnSyncd({
      config: withProxy(conf('a', 9), pa.address),
      logger: silentLogger(),
      kernel: new FakeKernel(),
      isLocal: ip => ip === VIP,
    })
    t.teardown(() => a.close())
    const b = await createConnSyncd({
      config: withProxy(conf('b', a.address.port), pb.address),
      logger: silentLogger(),
      kernel: new FakeKernel(),
      isLocal: () => false,
    })
    t.teardown(() => b.close())
    await a.reload(withProxy(conf('a', b.address.port), pa.address))
    await gotOne
    t.same(
      sets[0],
      [svc, '10.0.0.1', '10.0.0.22', '31'],
      'the peer proxy learns client -> node with the remaining TTL',
    )
  },
)

/** Waits for a condition on in-process state, bounded, naming what was awaited. */
/** Waits on the daemon's own state, bounded (test-support waitFor). */
async function until(
  what: string,
  pred: () => boolean,
  ms = 10_000,
): Promise<void> {
  await waitFor(pred, { what, timeoutMs: ms, intervalMs: 10 })
}

t.test(
  'an empty table answers a resync; only configured peer addresses are heard (18.9, 19.5, 19.13)',
  async t => {
    const { encodeMessage, MSG_RESYNC_REQUEST } =
      await import('../src/protocol.js')
    const a = await createConnSyncd({
      config: conf('a', 9),
      logger: silentLogger(),
      kernel: new FakeKernel(),
      isLocal: () => false,
    })
    t.teardown(() => a.close())
    const b = await createConnSyncd({
      config: conf('b', a.address.port),
      logger: silentLogger(),
      kernel: new FakeKernel(),
      isLocal: () => false,
    })
    t.teardown(() => b.close())
    await a.reload(conf('a', b.address.port))
    ;(b.commands?.resync as () => unknown)()
    // a holds nothing, and still answers with a (empty) DATA, flag RESYNC.
    await until('b to receive a resync answer from a', () =>
      b.status().peers.some(p => p.name === 'a' && p.resyncsReceived > 0),
    )
    await until('b to be ready', () => b.status().ready)

    // A correctly signed datagram from an address that is no configured peer.
    const s = createSocket('udp4')
    t.teardown(() => s.close())
    await new Promise<void>(r => s.bind(0, '127.0.0.2', () => r()))
    const before = b.status().dropped
    const forged = encodeMessage(
      {
        type: MSG_RESYNC_REQUEST,
        flags: 0,
        epoch: 1n,
        seq: 1,
        sender: 'x',
        records: [],
      },
      'sha256',
      'secret-key-1',
    )
    await new Promise<void>(r =>
      s.send(forged, b.address.port, '127.0.0.1', () => r()),
    )
    await until(
      'b to drop the datagram from 127.0.0.2',
      () => b.status().dropped > before,
    )
    const st = b.status()
    t.same(
      st.peers.map(p => p.name),
      ['a'],
      'the stranger is not a peer',
    )
    t.ok(
      st.peers.every(p => p.address.startsWith('127.0.0.1:')),
      'peer addresses are the real sources',
    )
    t.match(
      await b.metrics.registry.metrics(),
      /conn_syncd_datagrams_dropped_total\{reason="source"\} 1/,
    )
  },
)
