import t from 'tap'
import { createServer } from 'node:net'
import { once } from 'node:events'
import {
  buildNullCall,
  parseReply,
  RecordReader,
  RpcDecodeError,
  replyVerdict,
} from '../src/rpc.js'
import { rpcNullProbe } from '../src/rpc-client.js'
import { portOf } from '@has/test-support'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('NULL call bytes (RFC 5531, record marked)', async t => {
  t.same(
    buildNullCall(0x01020304, 3),
    hex(`80000028 01020304 00000000 00000002 000186a3 00000003 00000000
         00000000 00000000 00000000 00000000`),
  )
  t.equal(
    buildNullCall(0xffffffff, 4).readUInt32BE(4),
    0xffffffff,
    'xid kept unsigned',
  )
  t.equal(buildNullCall(7, 4).readUInt32BE(20), 4)
})

t.test('replies', async t => {
  t.same(
    parseReply(hex('01020304 00000001 00000000 00000000 00000000 00000000')),
    {
      xid: 0x01020304,
      kind: 'accepted',
      stat: 'SUCCESS',
    },
  )
  const mismatch = parseReply(
    hex(
      '00000009 00000001 00000000 00000000 00000000 00000002 00000004 00000004',
    ),
  )
  t.same(mismatch, {
    xid: 9,
    kind: 'accepted',
    stat: 'PROG_MISMATCH',
    low: 4,
    high: 4,
  })
  t.same(replyVerdict(mismatch), { ok: false, detail: 'PROG_MISMATCH 4-4' })
  t.same(
    parseReply(hex('00000009 00000001 00000000 00000000 00000000 00000001'))
      .kind,
    'accepted',
  )
  t.same(
    parseReply(hex('00000009 00000001 00000001 00000000 00000002 00000002')),
    {
      xid: 9,
      kind: 'denied',
      reason: 'RPC_MISMATCH',
      low: 2,
      high: 2,
    },
  )
  t.same(parseReply(hex('00000009 00000001 00000001 00000001 00000001')), {
    xid: 9,
    kind: 'denied',
    reason: 'AUTH_ERROR',
    authStat: 1,
  })
  // A verifier with a body (AUTH_SHORT-like, 6 bytes padded to 8).
  t.equal(
    (
      parseReply(
        hex(
          '00000005 00000001 00000000 00000002 00000006 aabbccddeeff0000 00000000',
        ),
      ) as { stat: string }
    ).stat,
    'SUCCESS',
  )
  t.same(
    replyVerdict(
      parseReply(hex('00000009 00000001 00000001 00000001 00000001')),
    ).ok,
    false,
  )
})

t.test('malformed replies throw RpcDecodeError', async t => {
  for (const [name, bytes] of [
    ['empty', ''],
    ['a CALL', '00000001 00000000 00000002'],
    ['truncated', '00000001 00000001 00000000 00000000'],
    ['bad reply_stat', '00000001 00000001 00000007'],
    [
      'bad accept_stat',
      '00000001 00000001 00000000 00000000 00000000 00000009',
    ],
    ['huge verifier', '00000001 00000001 00000000 00000000 00010000'],
    ['bad reject_stat', '00000001 00000001 00000001 00000005'],
  ] as const) {
    t.throws(() => parseReply(hex(bytes)), RpcDecodeError, name)
  }
})

t.test('record reassembly across fragments and chunks', async t => {
  const body = hex('01020304 00000001 00000000 00000000 00000000 00000000')
  const framed = Buffer.concat([
    hex('0000000c'),
    body.subarray(0, 12),
    hex('8000000c'),
    body.subarray(12),
  ])
  const r = new RecordReader()
  const out: Buffer[] = []
  for (const b of framed) out.push(...r.push(Buffer.from([b])))
  t.equal(out.length, 1)
  t.same(out[0], body)
  t.same(
    new RecordReader().push(Buffer.concat([framed, framed])).length,
    2,
    'two records in one chunk',
  )
  t.throws(
    () => new RecordReader(16).push(hex('80000020')),
    RpcDecodeError,
    'over the limit',
  )
})

t.test('socket client against a scripted server', async t => {
  // Answers v3 with SUCCESS and v4 with PROG_MISMATCH 3-3.
  const server = createServer(sock => {
    const reader = new RecordReader()
    sock.on('data', c => {
      for (const rec of reader.push(c)) {
        const xid = rec.readUInt32BE(0)
        const vers = rec.readUInt32BE(16)
        const body = Buffer.alloc(vers === 3 ? 24 : 32)
        body.writeUInt32BE(xid, 0)
        body.writeUInt32BE(1, 4)
        if (vers !== 3) {
          body.writeUInt32BE(2, 20)
          body.writeUInt32BE(3, 24)
          body.writeUInt32BE(3, 28)
        }
        const mark = Buffer.alloc(4)
        mark.writeUInt32BE((0x80000000 | body.length) >>> 0)
        sock.write(Buffer.concat([mark, body]))
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const port = portOf(server)
  const both = await rpcNullProbe({
    host: '127.0.0.1',
    port,
    versions: [3, 4],
    timeoutMs: 2000,
  })
  t.equal(both.ok, false, 'v4 missing: not healthy')
  t.same(both.versions, { 3: 'SUCCESS', 4: 'PROG_MISMATCH 3-3' })
  const v3 = await rpcNullProbe({
    host: '127.0.0.1',
    port,
    versions: [3],
    timeoutMs: 2000,
  })
  t.equal(v3.ok, true)

  // Connection refused: closed port.
  const closed = createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const cport = portOf(closed)
  await new Promise(r => closed.close(r))
  const refused = await rpcNullProbe({
    host: '127.0.0.1',
    port: cport,
    versions: [3],
    timeoutMs: 2000,
  })
  t.equal(refused.ok, false)
  t.equal(refused.error, 'ECONNREFUSED')
})

t.test('socket client times out on a silent server', async t => {
  const silent = createServer(() => undefined)
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.teardown(() => silent.close())
  const port = portOf(silent)
  const r = await rpcNullProbe({
    host: '127.0.0.1',
    port,
    versions: [3],
    timeoutMs: 50,
  })
  t.equal(r.ok, false)
  t.match(r.error, /timeout/)
})
