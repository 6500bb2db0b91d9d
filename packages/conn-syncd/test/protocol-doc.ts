// PROTOCOL.md's test vector, read from the document itself (issue 19.13):
// key text -> key bytes -> MAC of the sample datagram, and the datagram
// is what the encoder writes and the decoder accepts.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { decodeMessage, encodeMessage, MSG_DATA } from '../src/protocol.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')

/** The `### Test vector` block: `name value` lines, continuation lines indented. */
function vector(): Map<string, string> {
  const at = doc.indexOf('### Test vector')
  const block = /```\n([\s\S]*?)```/.exec(doc.slice(at))?.[1]
  if (at < 0 || block === undefined)
    throw new Error('PROTOCOL.md has no test vector block')
  const out = new Map<string, string>()
  let last = ''
  for (const line of block.split('\n')) {
    const m = /^([a-z-]+)\s+(.*)$/.exec(line)
    if (m?.[1] && m[2] !== undefined) {
      last = m[1]
      out.set(last, m[2].trim())
    } else if (line.trim() && last)
      out.set(last, `${out.get(last) ?? ''} ${line.trim()}`)
  }
  return out
}

const hex = (s: string | undefined): Buffer =>
  Buffer.from((s ?? '').replace(/\s+/g, ''), 'hex')

t.test(
  'PROTOCOL.md test vector: key bytes, MAC, encoder and decoder agree with the doc',
  async t => {
    const v = vector()
    const keyText = v.get('key-text') ?? ''
    t.equal(v.get('hmac'), 'sha256')
    t.same(
      Buffer.from(keyText, 'utf8'),
      hex(v.get('key-bytes')),
      'key bytes are the UTF-8 of the key text',
    )
    const body = hex(v.get('body'))
    const mac = hex(v.get('mac'))
    t.same(
      createHmac('sha256', hex(v.get('key-bytes')))
        .update(body)
        .digest(),
      mac,
      'mac = HMAC-SHA256(key bytes, body)',
    )
    const datagram = Buffer.concat([body, mac])
    t.equal(datagram.length, 86)
    const msg = {
      type: MSG_DATA as typeof MSG_DATA,
      flags: 0,
      epoch: 1_700_000_000_000n,
      seq: 1,
      sender: 'm1',
      records: [
        {
          kind: 'flow' as const,
          flow: {
            family: 4 as const,
            proto: 6,
            src: '192.0.2.10',
            dst: '10.0.0.100',
            sport: 40000,
            dport: 80,
            natDst: '10.0.0.21',
            natDport: 8080,
            natSrc: '10.0.0.100',
            natSport: 40000,
            timeout: 120,
          },
        },
      ],
    }
    t.same(
      encodeMessage(msg, 'sha256', keyText),
      datagram,
      'the encoder writes the documented bytes',
    )
    t.same(
      decodeMessage(datagram, 'sha256', keyText),
      msg,
      'the decoder reads the documented message',
    )
  },
)
