// PROTOCOL.md is what a peer written in another language reads (issue 19
// item 13): its RA/RS vectors and control examples are parsed from the
// document itself and checked against the real codecs, service and server.
import t from 'tap'
import { EventEmitter, once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageVersion, runDaemon, silentLogger } from '@has/daemon-kit'
import { within, exchange } from '@has/test-support'
import { NAME } from '../src/cli.js'
import { loadConfig, parseConfig } from '../src/config.js'
import type { IcmpSocket, IcmpSocketOptions, Received } from '../src/native.js'
import { buildRa, parseRa, type RaContent } from '../src/ra.js'
import { raContent } from '../src/ra-content.js'
import { checkRs } from '../src/rs.js'
import { createRadvdLite } from '../src/service.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')

const block = (lang: string): string => {
  const m = new RegExp('```' + lang + '\\n([^`]*)```').exec(doc)
  if (!m) throw new Error(`PROTOCOL.md has no \`\`\`${lang} block`)
  return m[1] as string
}

/** Hex with white space and `#` comments; anything else is an error. */
const hex = (text: string): Buffer => {
  const digits = text.replace(/#.*/g, '').replace(/\s+/g, '')
  if (!/^([0-9a-f]{2})*$/.test(digits))
    throw new Error(`not hex bytes: ${digits}`)
  return Buffer.from(digits, 'hex')
}

/** The doc with each run of white space as one space, for its sentences. */
const prose = doc.replace(/\s+/g, ' ')

/** A sentence of the doc, or an error naming what was looked for. */
const find = (re: RegExp): RegExpExecArray => {
  const m = re.exec(prose)
  if (!m) throw new Error(`PROTOCOL.md does not say ${String(re)}`)
  return m
}

const raBytes = (): Buffer => hex(block('ra-hex'))
const fields = (): RaContent => JSON.parse(block('ra-fields')) as RaContent

interface RsLine {
  data: Buffer
  src: string
  hop: number
  verdict: string[]
}
const rsLines = (): RsLine[] =>
  block('rs')
    .split('\n')
    .filter(l => l.trim() && !l.trim().startsWith('#'))
    .map(l => {
      const [data = '', src = '', hop = '', verdict = ''] = l.split('|')
      return {
        data: hex(data),
        src: src.trim(),
        hop: Number(hop),
        verdict: verdict.replace(/#.*/, '').trim().split(/\s+/),
      }
    })

t.test('RA vector: config -> fields -> bytes -> fields', async t => {
  const r = parseConfig(block('radvd-conf'), 'PROTOCOL.md')
  t.same(r.errors, [], 'the config block is valid')
  t.same(r.warnings, [], 'and draws no warning')
  const iface = r.config?.interfaces[0]
  if (!iface) return
  const f = fields()
  const bytes = raBytes()
  t.equal(bytes.length, Number(find(/ICMPv6 message, (\d+) bytes/)[1]))
  t.ok(f.sourceLL, 'the fields name the MAC')
  t.strictSame(
    raContent(iface, { now: 0, ...(f.sourceLL ? { mac: f.sourceLL } : {}) }),
    f,
    'raContent(config) gives the fields',
  )
  t.equal(
    buildRa(f).toString('hex'),
    bytes.toString('hex'),
    'buildRa(fields) gives the bytes',
  )
  const { checksum, optionOrder, ...decoded } = parseRa(bytes)
  t.equal(checksum, 0, 'the checksum is left to the kernel')
  t.strictSame(decoded, f, 'parseRa(bytes) gives the fields')

  // The option order of the numbered list under "Router Advertisement (sent)".
  const sent = doc.slice(doc.indexOf('### Router Advertisement (sent)'))
  const listed = [
    ...sent
      .slice(0, sent.indexOf('\n### ', 1))
      .matchAll(/^\d\. .*\(type (\d+)/gm),
  ].map(m => Number(m[1]))
  t.same(optionOrder, listed, 'options in the order the doc lists')

  // Flag bits as the doc states them.
  const bit = (re: RegExp): number => parseInt(find(re)[1] as string, 16)
  const base = { ...f, managed: false, other: false }
  const flags = (o: Partial<RaContent>): number =>
    buildRa({ ...base, ...o })[5] as number
  t.equal(
    flags({ managed: true, preference: 'medium' }),
    bit(/M (0x\w\w) \(`AdvManagedFlag`\)/),
  )
  t.equal(
    flags({ other: true, preference: 'medium' }),
    bit(/O (0x\w\w) \(`AdvOtherConfigFlag`\)/),
  )
  const prf = find(/Prf bits 0x18: (\d\d) high, (\d\d) medium, (\d\d) low/)
  for (const [i, p] of (['high', 'medium', 'low'] as const).entries())
    t.equal(flags({ preference: p }) >> 3, parseInt(prf[i + 1] as string, 2))
  const pf = find(/flags \(L (0x\w\w), A (0x\w\w), R (0x\w\w)\)/)
  const prefixFlags = (o: object): number =>
    buildRa({ ...f, prefixes: [{ ...f.prefixes[0]!, ...o }] })[19] as number
  const none = { onLink: false, autonomous: false, routerAddr: false }
  t.equal(prefixFlags({ ...none, onLink: true }), parseInt(pf[1]!, 16))
  t.equal(prefixFlags({ ...none, autonomous: true }), parseInt(pf[2]!, 16))
  t.equal(prefixFlags({ ...none, routerAddr: true }), parseInt(pf[3]!, 16))
})

t.test('RS vectors: checkRs gives each line its verdict', async t => {
  const lines = rsLines()
  t.ok(lines.length >= 5, 'the doc lists solicitations')
  for (const l of lines) {
    const v = checkRs(l.data, l.src, l.hop)
    const [word, mac] = l.verdict
    const what = `${l.data.toString('hex')} from ${l.src} hop ${l.hop}`
    if (word === 'ok')
      t.strictSame(v, mac ? { ok: true, sourceLL: mac } : { ok: true }, what)
    else t.match(v, { ok: false, reason: word }, what)
  }
})

/** One request line on its own connection; the whole answer. */
const request = (path: string, line: string): Promise<string> =>
  exchange(path, `${line}\n`, 5000)

t.test('the service sends the vector; control examples', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'radvd-doc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'radvd.conf')
  writeFileSync(file, block('radvd-conf'))
  const mac = fields().sourceLL
  const ifindex = Number(find(/fake socket and link, ifindex (\d+)/)[1])
  const now = Date.parse(find(/clock stopped at (\S+Z)/)[1] as string)

  // Seam: cli.ts runs the same runDaemon + createRadvdLite, but with the
  // raw ICMPv6 socket (CAP_NET_RAW) and /sys; here a fake socket records
  // sends and lets the test deliver packets, and the link is fixed.
  const sent: { data: Buffer; dst: string; src?: string; hop?: number }[] = []
  const ev = new EventEmitter()
  let deliver: ((p: Received) => void) | undefined
  const openSocket = (o: IcmpSocketOptions): IcmpSocket => {
    deliver = o.onPacket
    return {
      ifname: o.ifname,
      ifindex,
      send(data, dst, src, hop) {
        sent.push({ data: Buffer.from(data), dst, src, hop })
        ev.emit('sent')
      },
      close() {},
    }
  }
  const nth = (n: number): Promise<(typeof sent)[number]> =>
    within(
      (async () => {
        while (sent.length <= n) await once(ev, 'sent')
        return sent[n]!
      })(),
      5000,
      `RA number ${n + 1}`,
    )
  const d = await runDaemon({
    name: NAME,
    version: packageVersion(import.meta.url),
    logger: silentLogger(),
    load: async () => (await loadConfig(file)).config,
    start: config =>
      createRadvdLite({
        config,
        openSocket,
        readLink: async () => ({
          exists: true,
          linkLocal: 'fe80::1',
          ...(mac ? { mac } : {}),
          mtu: 1500,
        }),
        now: () => now,
        random: () => 0,
      }),
    controlAddress: join(dir, 'control.sock'),
    handleSignals: false,
  })
  let stopped = false
  t.teardown(async () => {
    if (!stopped) await d.stop()
  })
  const vector = raBytes().toString('hex')

  const first = await nth(0)
  t.equal(first.data.toString('hex'), vector, 'first RA: the vector bytes')
  t.match(first, { dst: 'ff02::1', src: 'fe80::1', hop: 255 })

  const rs = rsLines()[0]!
  deliver?.({
    data: rs.data,
    src: rs.src,
    hopLimit: rs.hop,
    ifindex,
    dst: 'ff02::2',
  })
  const answer = await nth(1)
  t.equal(answer.data.toString('hex'), vector, 'answer to the RS: the same')
  t.match(answer, { dst: rs.src, src: 'fe80::1', hop: 255 })

  const sock = join(dir, 'control.sock')
  const status = block('control-status').trim()
  t.ok(status.startsWith('OK '), 'the status example is an OK answer')
  const want = { ...(JSON.parse(status.slice(3)) as object), config: file }
  t.equal(
    await request(sock, 'status'),
    `OK ${JSON.stringify(want)}\n`,
    'status',
  )

  const version = packageVersion(import.meta.url)
  const pairs = [...block('control').matchAll(/^> (.*)\n< (.*)$/gm)]
  t.ok(pairs.length >= 4, 'the doc gives request/answer pairs')
  for (const [, req = '', ans = ''] of pairs) {
    t.equal(
      await request(sock, req),
      `${ans.replace(/"version":"[^"]*"/, `"version":"${version}"`)}\n`,
      req,
    )
  }

  const max = Number(find(/request line is at most (\d+) characters/)[1])
  const tooLong = find(/`(ERR KIT_ERR_LINE_TOO_LONG [^`]*)`/)[1] as string
  t.equal(await request(sock, 'x'.repeat(max + 1)), `${tooLong}\n`)
  t.equal(
    await request(sock, `version${' '.repeat(max - 'version'.length)}`),
    `OK ${JSON.stringify({ daemon: NAME, version })}\n`,
    `a line of exactly ${max} characters is served`,
  )

  t.ok(prose.includes('`OK {"applied":false}` when the file is invalid'))
  writeFileSync(file, 'interface eth0 { NoSuchOption on; };\n')
  t.equal(await request(sock, 'reload'), 'OK {"applied":false}\n')

  // Final RAs: the vector with the byte ranges the doc names set to 0.
  const para = find(/The final RAs of this config (.*?)\. /)[1] as string
  const final = raBytes()
  for (const [, a, b] of para.matchAll(/(\d+)-(\d+)/g))
    final.fill(0, Number(a), Number(b) + 1)
  const n = sent.length
  stopped = true
  await d.stop()
  const finals = sent.slice(n)
  t.equal(finals.length, Number(find(/(\d+) final RAs, \d+ ms apart/)[1]))
  for (const f of finals) {
    t.equal(f.data.toString('hex'), final.toString('hex'), 'final RA')
    t.equal(f.dst, 'ff02::1')
  }
})
