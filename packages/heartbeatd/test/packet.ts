import t from 'tap'
import {
  encodeHeartbeat,
  decodeHeartbeat,
  type Heartbeat,
} from '../src/packet.js'
import type { AuthKeys } from '../src/authkeys.js'

const auth: AuthKeys = {
  active: 1,
  keys: [{ index: 1, algorithm: 'sha1', secret: 'secret-one' }],
}
const hb: Heartbeat = {
  from: 'master1',
  gen: 1700000000000,
  seq: 42,
  via: 'b',
  standby: false,
  takeover: true,
  pingOk: 1,
  pingTotal: 2,
  held: [{ group: 'master1', heldMs: 1234 }],
  failed: ['master2'],
}

t.test('round trip and wire text', async t => {
  const buf = encodeHeartbeat(hb, auth)
  t.match(
    buf.toString(),
    /^HB1 master1 1700000000000 42 b takeover 1\/2 master1@1234 master2 1 [0-9a-f]{40}$/,
  )
  t.same(decodeHeartbeat(buf, auth), { ok: true, hb })
})

t.test('forged, unknown key, malformed: never throws', async t => {
  const buf = encodeHeartbeat(hb, auth)
  const forged = Buffer.from(buf.toString().replace(' 42 ', ' 43 '))
  t.same(decodeHeartbeat(forged, auth), { ok: false, reason: 'forged' })
  const other: AuthKeys = {
    active: 1,
    keys: [{ index: 1, algorithm: 'sha1', secret: 'another' }],
  }
  t.same(decodeHeartbeat(buf, other), { ok: false, reason: 'forged' })
  const rolled: AuthKeys = {
    active: 2,
    keys: [...auth.keys, { index: 2, algorithm: 'md5', secret: 'secret-two' }],
  }
  t.equal(
    decodeHeartbeat(encodeHeartbeat(hb, rolled), auth).ok,
    false,
    'key 2 unknown to the old side',
  )
  t.equal(
    decodeHeartbeat(buf, rolled).ok,
    true,
    'old key still accepted during rollover',
  )
  for (const junk of [
    '',
    'x',
    'HB1',
    'HB1 a b c d e f g h i j',
    Buffer.alloc(2000, 65).toString(),
    '\u0000\u00ff garbage',
  ]) {
    t.equal(decodeHeartbeat(Buffer.from(junk, 'latin1'), auth).ok, false)
  }
})
