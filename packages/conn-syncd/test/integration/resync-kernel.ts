// The batched kernel path against the real kernel (issue 18.4): a master
// returning to a peer that holds 1,200 flows gets every one into its
// conntrack table through `conntrack -R` batches, after removing what its
// previous instance left (flows that ended while it was away, an old
// mapping), and only then says it is ready. One
// namespace made here; the daemon and the peer (test/fixtures/resync-peer.mjs,
// conn-syncd's own codec) talk over its loopback.
import type { ConnSyncdStatus } from '../../src/conn-syncd.js'
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { controlRequest } from '@has/daemon-kit'
import { needsRoot, NetnsLab, sh } from '@has/test-support'
import { spawnDaemon, spawnScript, type Proc } from '@has/test-support'
import { batchLine, parseConntrackRow } from '../../src/conntrack.js'
import type { Flow } from '../../src/flow.js'

const VIP = '10.0.0.100'
const N = 1200
const KEY = 'resync-kernel-secret-1'
const peerFixture = fileURLToPath(
  new URL('../fixtures/resync-peer.mjs', import.meta.url),
)

/** What the peer fixture sends for flow i (same formula as resync-peer.mjs). */
const peerFlow = (i: number): Flow => {
  const sport = 1024 + (i % 60000)
  return {
    family: 4,
    proto: 6,
    src: `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255 || 1}`,
    dst: VIP,
    sport,
    dport: 80,
    natDst: `10.0.1.${1 + (i % 3)}`,
    natDport: 8080,
    natSrc: VIP,
    natSport: sport,
    timeout: 120,
  }
}

t.test(
  'a returning master gets 1,200 peer flows into its kernel in batches, stale entries removed, then ready',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('csk')
    const procs: Proc[] = []
    const dir = `/tmp/${lab.prefix}`
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      await lab.cleanup()
      await sh('rm', ['-rf', dir])
    })
    const ns = await lab.add('m')
    await sh('mkdir', ['-p', dir])

    // What the previous instance left: 40 entries for flows that ended while
    // it was away, and flow 0 with the mapping it had before (node .9).
    const stale: Flow[] = Array.from({ length: 40 }, (_, i) => ({
      ...peerFlow(0),
      src: `10.99.0.${i + 1}`,
      sport: 2000 + i,
      natSport: 2000 + i,
    }))
    const leftOver = [...stale, { ...peerFlow(0), natDst: '10.0.1.9' }]
    writeFileSync(
      `${dir}/old`,
      leftOver.map(flow => batchLine({ op: 'replace', flow })).join('\n') +
        '\n',
    )
    await lab.exec(ns, 'conntrack', ['-R', `${dir}/old`])
    t.equal(
      Number((await lab.exec(ns, 'conntrack', ['-C'])).trim()),
      leftOver.length,
      'the old entries are in the kernel',
    )

    const peer = spawnScript(
      peerFixture,
      ['6951', '6950', KEY, String(N), VIP],
      { netns: ns },
    )
    procs.push(peer)
    await peer.waitLog(l => l.msg === 'listening', 20_000)
    writeFileSync(
      `${dir}/cs.conf`,
      `node m1\nlisten 127.0.0.1:6950\npeer 127.0.0.1:6951\nauth-key ${KEY}\nservice ${VIP}:80 tcp\nentry-timeout 300s\n`,
    )
    const sock = `${dir}/cs.sock`
    const d = spawnDaemon(
      'conn-syncd',
      ['--config', `${dir}/cs.conf`, '--control', sock],
      { netns: ns },
    )
    procs.push(d)
    await d.waitLog(l => l.msg === 'started', 40_000)

    // The readiness a resource agent waits on, bounded.
    const r = (await controlRequest(sock, 'wait-ready', ['60000'], 65_000)) as {
      ready: boolean
      waitingFor: string[]
    }
    t.same(r.waitingFor, [], 'no peer table is missing')
    t.equal(r.ready, true, 'ready within 60 s')

    const rows = (await lab.exec(ns, 'conntrack', ['-L', '-o', 'extended']))
      .split('\n')
      .flatMap(l => {
        const row = parseConntrackRow(l, 300)
        return row ? [row] : []
      })
    const byKey = new Map(
      rows.map(row => [`${row.flow.src}:${row.flow.sport}`, row]),
    )
    let missing = 0
    let wrong = 0
    for (let i = 0; i < N; i++) {
      const f = peerFlow(i)
      const row = byKey.get(`${f.src}:${f.sport}`)
      if (!row) missing++
      else if (
        row.flow.natDst !== f.natDst ||
        row.flow.natDport !== 8080 ||
        row.state !== 'ESTABLISHED'
      )
        wrong++
    }
    t.equal(
      missing,
      0,
      `every one of the ${N} peer flows is in the kernel (conntrack -L)`,
    )
    t.equal(
      wrong,
      0,
      'each with the peer mapping and state ESTABLISHED (flow 0 with its new node)',
    )
    t.equal(
      rows.filter(row => row.flow.src.startsWith('10.99.')).length,
      0,
      'the entries no peer holds are gone',
    )
    t.equal(rows.length, N, 'nothing else is left in the table')

    const st = (await controlRequest(sock, 'status')) as ConnSyncdStatus
    t.equal(st.heldEntries, N)
    t.equal(
      st.staleRemoved,
      leftOver.length,
      'status counts the stale entries removed',
    )
    t.equal(st.kernelPending, 0)
    t.ok(
      st.kernel.applied >= N,
      `status shows the batches' progress (${st.kernel.applied} applied)`,
    )
    t.ok(
      st.kernel.batches < N / 10,
      `batched: ${st.kernel.batches} conntrack runs for ${N} flows`,
    )
  },
)
