// PROTOCOL.md is what another implementation reads: its examples are
// checked here by parsing the document itself (issue 19 item 13), so a
// change to the code that the doc does not follow fails a test.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { IssueList, ReplayGuard } from '@has/daemon-kit'
import { parseAuthkeys } from '../src/authkeys.js'
import { decodeHeartbeat, encodeHeartbeat } from '../src/packet.js'

const doc = readFileSync(
  join(dirname(fileURLToPath(import.meta.url)), '..', 'PROTOCOL.md'),
  'utf8',
)
const block = (lang: string): string => {
  const m = new RegExp('```' + lang + '\\n([^`]*)```').exec(doc)
  if (!m) throw new Error(`PROTOCOL.md has no \`\`\`${lang} block`)
  return m[1] as string
}

t.test(
  'the test vector: authkeys text, key bytes, signed datagram',
  async t => {
    const issues = new IssueList()
    const auth = parseAuthkeys(block('authkeys'), 'PROTOCOL.md', issues)
    t.same(issues.errors, [], 'the authkeys block parses')
    if (!auth) return
    const hexKey = /Key 2 bytes \(hex\): `([0-9a-f]+)`/.exec(doc)?.[1]
    t.ok(hexKey, 'the doc states key 2 as hex')
    const key2 = auth.keys.find(k => k.index === 2)
    t.equal(Buffer.from(key2?.secret ?? '', 'utf8').toString('hex'), hexKey)
    t.equal(
      auth.keys.find(k => k.index === 1)?.secret,
      'old  secret # kept',
      'quoted secret keeps its spaces and #',
    )
    const wire = block('hb1').trim()
    const d = decodeHeartbeat(Buffer.from(wire, 'ascii'), auth)
    t.equal(d.ok, true, 'the datagram is accepted')
    if (!d.ok) return
    t.match(d.hb, {
      from: 'master1',
      gen: 1764500000000,
      seq: 42,
      via: 'u',
      pingOk: 1,
      pingTotal: 1,
      held: [{ group: 'master1', heldMs: 1500 }],
    })
    t.equal(
      encodeHeartbeat(d.hb, auth).toString('ascii'),
      wire,
      'signing the same fields gives the same bytes',
    )
  },
)

t.test("stated number widths are the decoder's", async t => {
  const issues = new IssueList()
  const auth = parseAuthkeys(block('authkeys'), 'PROTOCOL.md', issues)
  if (!auth) {
    t.fail('authkeys block')
    return
  }
  const base = {
    from: 'master1',
    gen: 1,
    seq: 1,
    via: 'u' as const,
    standby: false,
    takeover: false,
    pingOk: 0,
    pingTotal: 0,
    held: [],
    failed: [],
  }
  const ok = (o: Partial<typeof base>): boolean =>
    decodeHeartbeat(encodeHeartbeat({ ...base, ...o }, auth), auth).ok
  t.ok(doc.includes('1–15 decimal digits'))
  t.ok(ok({ seq: 999_999_999_999_999 }), 'seq of 15 digits')
  t.notOk(ok({ seq: 1_000_000_000_000_000 }), 'seq of 16 digits')
  t.ok(ok({ pingOk: 999, pingTotal: 999 }), 'ok/total of 3 digits')
  t.notOk(ok({ pingTotal: 1000 }), 'total of 4 digits')
})

t.test('replay window boundary as the doc states it', async t => {
  t.match(doc, /`seq` 64 or more\s+behind the highest is `stale`/)
  const m =
    /with (\d+) the highest, (\d+) is accepted\s+once and (\d+) is dropped/.exec(
      doc,
    )
  t.ok(m, 'the doc gives the boundary example')
  if (!m) return
  const [top, inside, outside] = [m[1], m[2], m[3]].map(Number) as [
    number,
    number,
    number,
  ]
  // heartbeatd keys the guard by (sender, path), as PROTOCOL.md says.
  const g = new ReplayGuard()
  const key = 'master1|ucast eth1'
  t.equal(g.check(key, 1, top), 'ok')
  t.equal(g.check(key, 1, inside), 'late', `${inside} is accepted`)
  t.equal(g.check(key, 1, inside), 'replay', 'once')
  t.equal(g.check(key, 1, outside), 'stale', `${outside} is dropped`)
})
