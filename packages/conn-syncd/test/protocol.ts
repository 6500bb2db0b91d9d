import t from 'tap'
import {
  decodeMessage,
  encodeMessage,
  MSG_DATA,
  MSG_RESYNC_REQUEST,
  ProtocolError,
  FLAG_RESYNC,
  type SyncRecord,
} from '../src/protocol.js'
import { packDatagrams } from '../src/batch.js'
import type { Flow } from '../src/flow.js'

const key = 'test-secret-123'
const flow = (sport: number, family: 4 | 6 = 4): Flow =>
  family === 4
    ? {
        family,
        proto: 6,
        src: '10.0.0.1',
        dst: '10.0.0.100',
        sport,
        dport: 80,
        natDst: '10.0.0.21',
        natDport: 8080,
        natSrc: '10.0.0.100',
        natSport: sport,
        timeout: 120,
      }
    : {
        family,
        proto: 6,
        src: '2001:db8::1',
        dst: 'fd00::100',
        sport,
        dport: 80,
        natDst: 'fd00:0:0:1::21',
        natDport: 8080,
        natSrc: 'fd00::100',
        natSport: sport,
        timeout: 120,
      }

t.test('round trip of every record kind, IPv4 and IPv6', async t => {
  const records: SyncRecord[] = [
    { kind: 'flow', flow: flow(1000) },
    { kind: 'flow', flow: flow(1001, 6) },
    {
      kind: 'remove',
      flow: {
        family: 4,
        proto: 17,
        src: '10.0.0.1',
        dst: '10.0.0.100',
        sport: 5,
        dport: 53,
      },
    },
    {
      kind: 'persist',
      entry: {
        service: '10.0.0.100:80',
        client: '10.0.0.1',
        node: '10.0.0.22',
        ttl: 300,
      },
    },
  ]
  const msg = {
    type: MSG_DATA,
    flags: FLAG_RESYNC,
    epoch: 1_700_000_000_000n,
    seq: 7,
    sender: 'm1',
    records,
  } as const
  const buf = encodeMessage(msg, 'sha256', key)
  t.same(decodeMessage(buf, 'sha256', key), msg)
  const req = {
    type: MSG_RESYNC_REQUEST,
    flags: 0,
    epoch: 5n,
    seq: 1,
    sender: 'm2',
    records: [],
  } as const
  t.same(decodeMessage(encodeMessage(req, 'sha1', key), 'sha1', key), req)
})

t.test('bad datagrams are refused with a reason, never crash', async t => {
  const good = encodeMessage(
    {
      type: MSG_DATA,
      flags: 0,
      epoch: 1,
      seq: 1,
      sender: 'm1',
      records: [{ kind: 'flow', flow: flow(1) }],
    },
    'sha256',
    key,
  )
  const reason = (b: Buffer, k = key) => {
    try {
      decodeMessage(b, 'sha256', k)
      return 'ok'
    } catch (e) {
      return e instanceof ProtocolError ? e.reason : 'other'
    }
  }
  t.equal(reason(good), 'ok')
  t.equal(reason(good, 'other-key-123'), 'auth')
  t.equal(reason(Buffer.from('xx')), 'short')
  const bad = Buffer.from(good)
  bad[0] = 0x58
  t.equal(reason(bad), 'magic')
  const flipped = Buffer.from(good)
  flipped[30] = (flipped[30] ?? 0) ^ 1
  t.equal(reason(flipped), 'auth')
  // Random garbage of many lengths: always a ProtocolError.
  for (let n = 0; n < 200; n++) {
    const g = Buffer.alloc(n * 3)
    for (let i = 0; i < g.length; i++) g[i] = (i * 131 + n * 17) & 0xff
    t.not(reason(g), 'other')
  }
})

t.test(
  'batching: many entries per datagram, never above the limit',
  async t => {
    let seq = 0
    const records: SyncRecord[] = Array.from({ length: 300 }, (_, i) => ({
      kind: 'flow',
      flow: flow(1000 + i),
    }))
    const grams = packDatagrams(
      { type: MSG_DATA, flags: 0, epoch: 1, sender: 'm1' },
      records,
      1400,
      'sha256',
      key,
      () => ++seq,
    )
    t.ok(grams.length > 1 && grams.length < 10, `${grams.length} datagrams`)
    t.ok(grams.every(g => g.length <= 1400))
    const back = grams.flatMap(g => decodeMessage(g, 'sha256', key).records)
    t.same(back, records)
    t.same(
      grams.map(g => decodeMessage(g, 'sha256', key).seq),
      grams.map((_, i) => i + 1),
    )
    const empty = packDatagrams(
      { type: MSG_RESYNC_REQUEST, flags: 0, epoch: 1, sender: 'm1' },
      [],
      1400,
      'sha256',
      key,
      () => ++seq,
    )
    t.equal(empty.length, 1)
  },
)
