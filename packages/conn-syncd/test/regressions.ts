// Regression tests for issues 18 and 19 (conn-syncd parts), one per defect.
// In-process daemons on loopback; the seam is the Kernel interface (a
// recording fake: the real conntrack path is test/integration/).
import { captureLogger, waitFor } from '@has/test-support'
import t from 'tap'
import { createSocket } from 'node:dgram'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  controlRequest,
  silentLogger,
  startControlServer,
  configOrThrow,
} from '@has/daemon-kit'
import { createConnSyncd, type ResolvedConfig } from '../src/conn-syncd.js'
import { parseConfig } from '../src/config.js'
import {
  insertArgs,
  isSyncable,
  parseConntrackRow,
  type ConntrackRow,
  type KernelOp,
} from '../src/conntrack.js'
import { flowKey, type Flow, type FlowKey } from '../src/flow.js'
import { applyInOrder, conntrackKernel, type Kernel } from '../src/kernel.js'
import { KernelQueue } from '../src/kernel-queue.js'
import {
  decodeMessage,
  encodeMessage,
  MSG_DATA,
  ProtocolError,
} from '../src/protocol.js'

const VIP = '10.0.0.100'
const KEY = 'secret-key-1'
const flow = (sport: number, timeout = 60): Flow => ({
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
  timeout,
})

/** Records every op; `until` resolves when a predicate on them holds (bounded, named). */
class RecordingKernel implements Kernel {
  onRow: (r: ConntrackRow) => void = () => undefined
  rows: ConntrackRow[] = []
  ops: KernelOp[] = []
  #waiters: (() => void)[] = []
  follow(onRow: (r: ConntrackRow) => void) {
    this.onRow = onRow
  }
  async dump() {
    return this.rows
  }
  async apply(ops: readonly KernelOp[]) {
    this.ops.push(...ops)
    for (const w of this.#waiters.splice(0)) w()
    return ops.map(() => true)
  }
  async purge() {
    return 0
  }
  close() {}
  async until(
    what: string,
    pred: (ops: KernelOp[]) => boolean,
    ms = 10_000,
  ): Promise<void> {
    const end = Date.now() + ms
    while (!pred(this.ops)) {
      const left = end - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>(r => {
        const timer = setTimeout(r, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          r()
        })
      })
    }
  }
}

const conf = (node: string, peerPort: number, extra = ''): ResolvedConfig => ({
  ...configOrThrow(
    parseConfig(
      `node ${node}\nlisten 127.0.0.1:0\npeer 127.0.0.1:${peerPort}\nauth-key ${KEY}\nservice ${VIP}:80\nsync-threshold 0\nrefresh-interval 1h\nentry-timeout 2h\n${extra}`,
    ),
  ),
  key: KEY,
})

/** Waits for a condition on in-process state, bounded, naming what was awaited. */
/** Waits on the daemon's own state, bounded (test-support waitFor). */
async function until(
  what: string,
  pred: () => boolean,
  ms = 10_000,
): Promise<void> {
  await waitFor(pred, { what, timeoutMs: ms, intervalMs: 10 })
}

const send = (buf: Buffer, port: number, from = '127.0.0.1'): Promise<void> => {
  const s = createSocket('udp4')
  return new Promise<void>(r =>
    s.bind(0, from, () =>
      s.send(buf, port, '127.0.0.1', () => {
        s.close()
        r()
      }),
    ),
  )
}

t.test(
  '19.1: a signed PERSIST with a newline or space in a field never reaches the control socket',
  async t => {
    const hostile = [
      '127.0.0.11 1\nweight 10.0.0.100:80 10.0.0.21 0\nversion',
      '10.0.0.22 extra',
      '10.0.0.22\r',
      '10.0.0.22\u0000',
    ]
    // The decoder refuses each, as a bad record.
    for (const node of hostile) {
      const buf = encodeMessage(
        {
          type: MSG_DATA,
          flags: 0,
          epoch: 1n,
          seq: 1,
          sender: 'a',
          records: [
            {
              kind: 'persist',
              entry: {
                service: `${VIP}:80`,
                client: '10.0.0.1',
                node,
                ttl: 30,
              },
            },
          ],
        },
        'sha256',
        KEY,
      )
      let reason = 'accepted'
      try {
        decodeMessage(buf, 'sha256', KEY)
      } catch (e) {
        reason = e instanceof ProtocolError ? e.reason : String(e)
      }
      t.equal(reason, 'record', `refused at decode: ${JSON.stringify(node)}`)
    }
    // A running receiver drops them, and the control socket only ever sees the valid one sent after them.
    const dir = mkdtempSync(`${tmpdir()}/cs-191-`)
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const lines: string[][] = []
    const ctl = await startControlServer({
      address: `${dir}/tm.sock`,
      handlers: { 'persist-set': args => (lines.push(args), { ok: true }) },
    })
    t.teardown(() => ctl.close())
    const b = await createConnSyncd({
      config: { ...conf('b', 9), proxyControl: ctl.address },
      logger: silentLogger(),
      kernel: new RecordingKernel(),
      isLocal: () => false,
    })
    t.teardown(() => b.close())
    let seq = 0
    for (const node of hostile) {
      await send(
        encodeMessage(
          {
            type: MSG_DATA,
            flags: 0,
            epoch: 1n,
            seq: ++seq,
            sender: 'a',
            records: [
              {
                kind: 'persist',
                entry: {
                  service: `${VIP}:80`,
                  client: '10.0.0.1',
                  node,
                  ttl: 30,
                },
              },
            ],
          },
          'sha256',
          KEY,
        ),
        b.address.port,
      )
    }
    await send(
      encodeMessage(
        {
          type: MSG_DATA,
          flags: 0,
          epoch: 1n,
          seq: ++seq,
          sender: 'a',
          records: [
            {
              kind: 'persist',
              entry: {
                service: `${VIP}:80`,
                client: '10.0.0.1',
                node: '10.0.0.22',
                ttl: 30,
              },
            },
          ],
        },
        'sha256',
        KEY,
      ),
      b.address.port,
    )
    await until(
      'the valid persist-set on the control socket',
      () => lines.length > 0,
    )
    t.same(
      lines,
      [[`${VIP}:80`, '10.0.0.1', '10.0.0.22', '30']],
      'only the valid entry arrived',
    )
    t.match(
      await b.metrics.registry.metrics(),
      /conn_syncd_datagrams_dropped_total\{reason="record"\} 4/,
    )

    // The control client refuses such arguments before it connects.
    for (const arg of ['a b', 'a\nversion', 'a\tb', 'a\u0000', '']) {
      await t.rejects(
        controlRequest(ctl.address, 'persist-set', [
          `${VIP}:80`,
          arg,
          '10.0.0.22',
          '30',
        ]),
        { code: 'KIT_ERR_CONTROL_ARGUMENT' },
        JSON.stringify(arg),
      )
    }
    t.equal(lines.length, 1, 'nothing more reached the socket')
  },
)

t.test(
  '19.2: half-open flows are not synced; inserted with their state and timeout; insert rate bounded',
  async t => {
    // The line the kernel shows for a half-open and an established flow.
    const synRecv = parseConntrackRow(
      `tcp 6 58 SYN_RECV src=10.0.0.1 dst=${VIP} sport=4001 dport=80 src=10.0.0.21 dst=${VIP} sport=8080 dport=4001 mark=0 use=1`,
      7200,
    )
    const est = parseConntrackRow(
      `tcp 6 300 ESTABLISHED src=10.0.0.1 dst=${VIP} sport=4002 dport=80 src=10.0.0.21 dst=${VIP} sport=8080 dport=4002 [ASSURED] mark=0 use=1`,
      7200,
    )
    if (!synRecv || !est) throw new Error('rows did not parse')
    t.equal(isSyncable(synRecv), false, 'SYN_RECV is not syncable')
    t.equal(isSyncable(est), true)
    t.equal(
      est.flow.timeout,
      300,
      "the kernel's remaining timeout, not entry-timeout",
    )

    const ka = new RecordingKernel()
    const kb = new RecordingKernel()
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
    // The kernel holds both (a full table is read from it); the events come
    // half-open first, then established.
    ka.rows = [synRecv, est]
    ka.onRow({ ...synRecv, event: 'NEW' })
    ka.onRow({ ...est, event: 'UPDATE' })
    await kb.until('the established flow in b kernel', ops =>
      ops.some(o => o.flow.sport === 4002),
    )
    // A full table (resync) from the dump: still only the established one.
    ;(b.commands?.resync as () => unknown)()
    await until('b to get a full table', () =>
      b.status().peers.some(p => p.resyncsReceived > 0),
    )
    await until('b to be ready', () => b.status().ready)
    t.same(
      kb.ops.filter(o => o.flow.sport === 4001),
      [],
      'the SYN_RECV flow never reached the peer kernel',
    )
    const op = kb.ops.find(o => o.flow.sport === 4002)
    if (op?.op !== 'replace')
      throw new Error('no insert for the established flow')
    const args = insertArgs(op.flow)
    t.same(args.slice(args.indexOf('--state'), args.indexOf('--state') + 2), [
      '--state',
      'ESTABLISHED',
    ])
    t.same(
      args.slice(args.indexOf('--timeout'), args.indexOf('--timeout') + 2),
      ['--timeout', '300'],
      'its real remaining timeout',
    )

    // The queue puts at most max-insert-rate flows a second into the kernel
    // (a fake clock: each batch takes one second).
    let clock = 0
    const batches: number[] = []
    const q = new KernelQueue({
      apply: async ops => {
        batches.push(ops.length)
        clock += 1000
        return ops.map(() => true)
      },
      onResult: () => undefined,
      maxBatch: 2500,
      ratePerS: 200,
      now: () => clock,
    })
    for (let i = 0; i < 1000; i++)
      q.push({ op: 'replace', flow: flow(10_000 + i) })
    await until(
      'the queue to drain 1,000 flows',
      () => q.idle && batches.reduce((s, n) => s + n, 0) === 1000,
    )
    t.ok(
      batches.every(n => n <= 200),
      `no batch above the rate: ${batches.join(', ')}`,
    )
    q.close()
  },
)

t.test(
  '19.11: the conntrack line parser takes constructor=, valueOf=, __proto__= as plain tokens',
  async t => {
    const base = `tcp 6 300 ESTABLISHED src=10.0.0.1 dst=${VIP} sport=4002 dport=80 src=10.0.0.21 dst=${VIP} sport=8080 dport=4002 [ASSURED]`
    for (const extra of [
      'constructor=1',
      'valueOf=x',
      '__proto__=y',
      'toString=',
      'hasOwnProperty=1 constructor= valueOf=2',
    ]) {
      let row: ReturnType<typeof parseConntrackRow>
      t.doesNotThrow(
        () => (row = parseConntrackRow(`${base} ${extra} mark=0`)),
        extra,
      )
      t.equal(row?.flow.natDst, '10.0.0.21', `${extra}: the flow still parses`)
    }
    t.equal(
      parseConntrackRow('constructor=1 valueOf=2 tcp'),
      undefined,
      'a line of only such tokens is not a flow',
    )
  },
)

t.test(
  '18.11: dropped datagrams give a rate-limited warning with counts per reason and the top source',
  async t => {
    const { logger, lines } = captureLogger('conn-syncd')
    const b = await createConnSyncd({
      config: conf('b', 9),
      logger,
      kernel: new RecordingKernel(),
      isLocal: () => false,
    })
    const garbage = Buffer.from(
      'HCS1 not a real datagram, long enough to pass the length check........',
    )
    for (let i = 0; i < 20; i++) await send(garbage, b.address.port)
    const forged = encodeMessage(
      { type: MSG_DATA, flags: 0, epoch: 1n, seq: 1, sender: 'x', records: [] },
      'sha256',
      'another-key-1',
    )
    for (let i = 0; i < 5; i++) await send(forged, b.address.port, '127.0.0.2')
    await until('25 drops counted', () => b.status().dropped === 25)
    await b.close()
    const warns = lines.filter(
      l => l.level === 40 && /dropped/.test(String(l.msg)),
    )
    t.ok(
      warns.length >= 1 && warns.length <= 3,
      `a few warn lines for 25 drops, not one each (${warns.length})`,
    )
    const all = JSON.stringify(warns)
    t.match(all, /"auth"/, 'counts per reason')
    t.match(all, /"source"/, 'the stranger counted by reason')
    t.match(all, /127\.0\.0\.1/, 'the top source is named')
  },
)

t.test(
  '18.4: a batch that fails half-way costs a dump, not a re-run of what it applied',
  async t => {
    // conntrack -R semantics: lines in order, stop at the first failing one.
    const kernel = new Map<FlowKey, Flow>()
    const clash = flow(600, 60)
    kernel.set(flowKey(clash), { ...clash, natDst: '10.0.0.29' }) // an old mapping
    let runs = 0
    let dumps = 0
    const run = async (ops: readonly KernelOp[]) => {
      runs++
      for (const op of ops) {
        const k = flowKey(op.flow)
        if (op.op === 'delete') kernel.delete(k)
        else if (kernel.has(k))
          return { ok: false, detail: 'Such conntrack exists' }
        else kernel.set(k, op.flow)
      }
      return { ok: true, detail: '' }
    }
    const failed: KernelOp[] = []
    const ops: KernelOp[] = Array.from({ length: 1000 }, (_, i) => ({
      op: 'replace',
      flow: flow(i + 1, 60),
    }))
    const res = await applyInOrder(
      ops,
      run,
      async () => (dumps++, new Map(kernel)),
      op => failed.push(op),
    )
    t.same(
      failed.map(o => o.flow.sport),
      [600],
      'only the clashing flow is reported (halving re-ran the 599 before it and reported each)',
    )
    t.equal(
      res.filter(Boolean).length,
      999,
      'every other flow counts as applied',
    )
    t.ok(runs <= 3 && dumps <= 2, `${runs} runs, ${dumps} dumps`)
  },
)

t.test(
  '19.9: the epoch never goes backwards across restarts, even after the clock steps back',
  async t => {
    const { spawnDaemon } = await import('@has/test-support')
    const { readFileSync, writeFileSync, mkdirSync } = await import('node:fs')
    const dir = mkdtempSync(`${tmpdir()}/cs-epoch-`)
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    // The last epoch used is an hour ahead of the clock (the clock stepped back since).
    const last = Date.now() + 3_600_000
    mkdirSync(`${dir}/state/conn-syncd`, { recursive: true })
    writeFileSync(`${dir}/state/conn-syncd/epoch`, `${last}\n`)
    // The peer: a socket of ours that sees the daemon's start-up RESYNC-REQUEST.
    const peer = createSocket('udp4')
    t.teardown(() => peer.close())
    await new Promise<void>(r => peer.bind(0, '127.0.0.1', () => r()))
    const epochs: bigint[] = []
    peer.on('message', b => {
      try {
        epochs.push(decodeMessage(b, 'sha256', KEY).epoch)
      } catch {
        /* not ours */
      }
    })
    writeFileSync(
      `${dir}/cs.conf`,
      `node m1\nlisten 127.0.0.1:0\npeer 127.0.0.1:${peer.address().port}\nauth-key ${KEY}\nservice ${VIP}:80 tcp\n`,
    )
    const start = async (): Promise<bigint> => {
      epochs.length = 0
      const d = spawnDaemon(
        'conn-syncd',
        ['--config', `${dir}/cs.conf`, '--control', `${dir}/cs.sock`],
        { env: { ...process.env, HAS_STATE_DIR: `${dir}/state` } },
      )
      try {
        await d.waitLog(l => l.msg === 'started', 30_000)
        await until(
          'the start-up resync request',
          () => epochs.length > 0,
          20_000,
        )
        return epochs[0] as bigint
      } finally {
        await d.stop('SIGTERM')
      }
    }
    const first = await start()
    t.equal(
      first,
      BigInt(last + 1),
      'one more than the last epoch used, not the clock',
    )
    t.equal(
      readFileSync(`${dir}/state/conn-syncd/epoch`, 'utf8').trim(),
      String(last + 1),
      'persisted before use',
    )
    const second = await start()
    t.equal(second, BigInt(last + 2), 'a restart takes the next one')
  },
)

t.test(
  'a peer that restarted is asked for its table, even while it keeps talking',
  async t => {
    const { MSG_RESYNC_REQUEST } = await import('../src/protocol.js')
    const peer = createSocket('udp4')
    t.teardown(() => peer.close())
    await new Promise<void>(r => peer.bind(0, '127.0.0.1', () => r()))
    const asks: number[] = []
    peer.on('message', b => {
      try {
        if (decodeMessage(b, 'sha256', KEY).type === MSG_RESYNC_REQUEST)
          asks.push(Date.now())
      } catch {
        /* not ours */
      }
    })
    const b = await createConnSyncd({
      config: conf('b', peer.address().port),
      logger: silentLogger(),
      kernel: new RecordingKernel(),
      isLocal: () => false,
    })
    t.teardown(() => b.close())
    let seq = 0
    const say = (epoch: bigint, flags: number) =>
      send(
        encodeMessage(
          {
            type: MSG_DATA,
            flags,
            epoch,
            seq: ++seq,
            sender: 'm2',
            records: [],
          },
          'sha256',
          KEY,
        ),
        b.address.port,
      )
    await say(1n, 3) // its (empty) full table
    await until('b ready with the first table', () => b.status().ready)
    // It restarts (a new epoch) and goes on sending, never silent for long.
    seq = 0
    const before = asks.length
    await say(2n, 0)
    const chatter = setInterval(() => void say(2n, 0), 200)
    t.teardown(() => clearInterval(chatter))
    await until(
      'a resync request to the restarted peer',
      () => asks.length > before,
      10_000,
    )
    t.equal(b.status().ready, false, 'not ready until its new table is in')
    clearInterval(chatter)
    await say(2n, 3)
    await until('b ready again with its new table', () => b.status().ready)
    t.pass('ready again')
  },
)

// Regression: the batch directory lived from start to close, so every
// conn-syncd killed with -9 left a /tmp/conn-syncd-* behind (89 on the
// test machine). It now lives only while its batch runs. A stand-in
// conntrack records the batch file it is given (no root needed).
t.test('a conntrack batch leaves nothing in the temp directory', async t => {
  const tmp = mkdtempSync(join(tmpdir(), 'cs-batch-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const bin = join(tmp, 'conntrack')
  const seen = join(tmp, 'seen')
  writeFileSync(bin, `#!/bin/sh\ncat "$2" > ${JSON.stringify(seen)}\n`)
  chmodSync(bin, 0o755)
  const work = join(tmp, 'work')
  mkdirSync(work)
  const before = process.env.TMPDIR
  process.env.TMPDIR = work
  t.teardown(() => {
    if (before === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = before
  })
  const k = conntrackKernel(bin, 120, silentLogger())
  t.teardown(() => k.close())
  t.same(readdirSync(work), [], 'nothing made at start')
  const res = await k.apply([{ op: 'replace', flow: flow(4000) }])
  t.same(res, [true])
  t.match(readFileSync(seen, 'utf8'), /--sport 4000/, 'conntrack got the batch')
  t.same(readdirSync(work), [], 'nothing left after the batch')
})
