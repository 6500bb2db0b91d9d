// Two daemons in-process on loopback. Seam: the Kernel interface is a
// recording fake here (the real conntrack path runs in
// integration/failover.ts); sockets, codec, auth and resync are real.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { silentLogger } from '@has/daemon-kit'
import { createConnSyncd, type ResolvedConfig } from '../src/conn-syncd.js'
import { parseConfig } from '../src/config.js'
import type { Kernel } from '../src/kernel.js'
import type { ConntrackRow } from '../src/conntrack.js'
import type { Flow } from '../src/flow.js'

const VIP = '10.0.0.100'
const flow = (sport: number): Flow => ({
  family: 4, proto: 6, src: '10.0.0.1', dst: VIP, sport, dport: 80, natDst: '10.0.0.21', natDport: 8080, natSrc: VIP, natSport: sport, timeout: 60,
})

class FakeKernel implements Kernel {
  onRow: (r: ConntrackRow) => void = () => undefined
  table: Flow[] = []
  ops: string[] = []
  #waiters: (() => void)[] = []
  follow(onRow: (r: ConntrackRow) => void) { this.onRow = onRow }
  async dump() { return this.table.map(flow => ({ event: 'LIST' as const, state: 'ESTABLISHED', flow })) }
  #note(op: string) { this.ops.push(op); for (const w of this.#waiters.splice(0)) w() }
  async insert(f: Flow) { this.#note(`insert ${f.sport}`); return true }
  async refresh(f: Flow) { this.#note(`refresh ${f.sport}`); return true }
  async remove(f: Flow) { this.#note(`remove ${f.sport}`); return true }
  close() {}
  async until(pred: (ops: string[]) => boolean) {
    while (!pred(this.ops)) await new Promise<void>(r => this.#waiters.push(r))
  }
}

const conf = (node: string, ...peerPorts: number[]): ResolvedConfig => ({
  ...parseConfig(`node ${node}\nlisten 127.0.0.1:0\n${peerPorts.map(p => `peer 127.0.0.1:${p}\n`).join('')}auth-key secret-key-1\nservice ${VIP}:80\nsync-threshold 0\nrefresh-interval 1h\nentry-timeout 2h\n`),
  key: 'secret-key-1',
})

t.test('flows go from the VIP holder to the peer kernel; resync on start', async t => {
  const ka = new FakeKernel()
  const kb = new FakeKernel()
  const a = await createConnSyncd({ config: conf('a', 9), logger: silentLogger(), kernel: ka, isLocal: ip => ip === VIP })
  t.teardown(() => a.close())
  const b = await createConnSyncd({ config: conf('b', a.address.port), logger: silentLogger(), kernel: kb, isLocal: () => false })
  t.teardown(() => b.close())
  await a.reload(conf('a', b.address.port))

  // A new connection on a, past the threshold: b inserts it.
  ka.table = [flow(1000)]
  ka.onRow({ event: 'NEW', state: 'SYN_SENT', flow: flow(1000) })
  await kb.until(ops => ops.includes('insert 1000'))
  t.ok(kb.ops.indexOf('remove 1000') < kb.ops.indexOf('insert 1000'), 'a stale entry is cleared before the insert')

  // The connection ends: b removes it.
  ka.onRow({ event: 'DESTROY', flow: flow(1000) })
  await kb.until(ops => ops.filter(o => o === 'remove 1000').length >= 2)
  ka.table = [flow(2000), flow(2001)]

  // A third master starts empty and asks for a resync: it gets a's table.
  const kc = new FakeKernel()
  const c = await createConnSyncd({ config: conf('c', a.address.port), logger: silentLogger(), kernel: kc, isLocal: () => false })
  t.teardown(() => c.close())
  // Peers are configured on both sides; a learns of c by a reload.
  await a.reload(conf('a', b.address.port, c.address.port))
  ;(c.commands?.resync as () => unknown)()
  await kc.until(ops => ops.includes('insert 2000') && ops.includes('insert 2001'))
  t.ok((a.status() as { resyncServed: number }).resyncServed >= 1)

  // Garbage and forged datagrams are counted and dropped.
  const s = createSocket('udp4')
  t.teardown(() => s.close())
  const before = (b.status() as { dropped: number }).dropped
  await new Promise<void>(r => s.send(Buffer.from('HCS1 not a real datagram, long enough to pass the length check........'), b.address.port, '127.0.0.1', () => r()))
  while ((b.status() as { dropped: number }).dropped === before) await new Promise(r => setTimeout(r, 20))
  t.equal((b.status() as { dropped: number }).dropped, before + 1)
  const text = await b.metrics.registry.metrics()
  t.match(text, /conn_syncd_datagrams_dropped_total\{reason="auth"\} 1/)
  const st = b.status() as { peers: { name: string; entries: number }[] }
  t.same(st.peers.map(p => p.name), ['a'])
})
