// PROTOCOL.md is what another implementation reads (issue 19 item 13): its
// LOAD test vector and its control socket examples are parsed from the
// document itself and checked against the codec and a running daemon.
import t from 'tap'
import { createHmac } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ManualClock, waitFor, exchange } from '@has/test-support'
import { runDaemon, silentLogger, type DaemonHandle } from '@has/daemon-kit'
import { parseConfig, type TmConfig } from '../src/config.js'
import { InProcessHost } from '../src/proxy-host.js'
import { proxyDataPlaneFactory } from '../src/proxy-data-plane.js'
import {
  formatReport,
  parseReport,
  verifyReport,
  type LoadReport,
  type ReportState,
} from '../src/report-protocol.js'
import {
  createTrafficManager,
  type StatusSnapshot,
  type TrafficManager,
} from '../src/traffic-manager.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')

/** The body of the one fenced block with this info string. */
function block(info: string): string {
  const all = [
    ...doc.matchAll(new RegExp('^```' + info + '\\n([^`]*)```', 'gm')),
  ]
  if (all.length !== 1)
    throw new Error(`PROTOCOL.md needs one \`\`\`${info} block`)
  return all[0]?.[1] as string
}

/** A block of `name value` lines. */
function fields(info: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of block(info).split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line)
    if (m) out.set(m[1] as string, m[2] as string)
  }
  return out
}

const vector = fields('load-vector')
const datagram = block('load').trim()
const key = vector.get('key') ?? ''

t.test('LOAD test vector: key bytes, MAC, codec both ways', async t => {
  t.equal(Buffer.from(key, 'utf8').toString('hex'), vector.get('key-hex'))
  const signed = vector.get('signed') ?? ''
  const mac = vector.get('mac') ?? ''
  t.equal(
    createHmac('sha256', Buffer.from(vector.get('key-hex') ?? '', 'hex'))
      .update(signed, 'ascii')
      .digest('hex'),
    mac,
    'mac = HMAC-SHA256(key bytes, signed), computed without the codec',
  )
  t.equal(datagram, `${signed} mac=${mac}`, 'the datagram is signed + mac')
  const size = /The\s+datagram\s+\(these\s+(\d+)\s+bytes/.exec(doc)?.[1]
  t.equal(Buffer.byteLength(datagram), Number(size), 'its stated size')
  const [extKey = '', extValue = ''] = (vector.get('ext') ?? '').split('=')
  const report: LoadReport = {
    node: vector.get('node') ?? '',
    load: Number(vector.get('load')),
    state: vector.get('state') as ReportState,
    sender: vector.get('sender') ?? '',
    epoch: Number(vector.get('epoch')),
    seq: Number(vector.get('seq')),
    ext: { [extKey]: extValue },
  }
  t.equal(formatReport(report, key), datagram, 'the codec writes the line')
  for (const end of ['', '\n', '\r\n']) {
    const p = parseReport(Buffer.from(datagram + end, 'ascii'))
    t.same(p, { ok: true, report, mac, signed }, `parsed (end ${end.length})`)
    if (!p.ok) continue
    t.ok(verifyReport(p, key), 'the MAC verifies with the key')
    const wrong = mac.replace(/^./, c => (c === '0' ? '1' : '0'))
    t.notOk(verifyReport({ ...p, mac: wrong }, key), 'one digit off fails')
  }
})

/** Request and answer lines of a ```tm-control transcript. */
function transcript(): { request: string; answer: string }[] {
  const out: { request: string; answer: string }[] = []
  for (const line of block('tm-control').split('\n')) {
    if (line.startsWith('> ')) out.push({ request: line.slice(2), answer: '' })
    else if (line.startsWith('< ') && out.length)
      (out[out.length - 1] as { answer: string }).answer = line.slice(2)
  }
  return out
}

/** Sends one request line on its own connection; resolves to all it got. */
const ask = (path: string, request: string): Promise<string> =>
  exchange(path, request, 5000)

/** Values that change from run to run become their type (null stays null). */
function byType(v: unknown, varying: ReadonlySet<string>): unknown {
  if (Array.isArray(v)) return v.map(x => byType(x, varying))
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      varying.has(k) && x !== null ? `<${typeof x}>` : byType(x, varying),
    ]),
  )
}

t.test('control socket examples against a running traffic-manager', async t => {
  const { config, errors } = parseConfig(block('tmd.conf'), 'PROTOCOL.md')
  t.same(errors, [], 'the example tmd.conf is valid')
  if (!config) return
  const dir = mkdtempSync(join(tmpdir(), 'tm-doc-'))
  const control = join(dir, 'tm.sock')
  const clock = new ManualClock()
  // Seam: the real proxy data plane, listening on 127.0.0.1 port 0 instead
  // of the doc's VIP (this host does not hold 192.168.1.10).
  const host = new InProcessHost(silentLogger())
  const proxy = proxyDataPlaneFactory(host)
  let tm: TrafficManager | undefined
  const d: DaemonHandle<TmConfig, StatusSnapshot> = await runDaemon({
    name: 'traffic-manager',
    logger: silentLogger(),
    handleSignals: false,
    controlAddress: control,
    // Report port 0, not the doc's 7070: the test binds a free port.
    load: async () => ({ ...config, port: 0 }),
    start: async c =>
      (tm = await createTrafficManager({
        config: c,
        logger: silentLogger(),
        clock,
        dataPlanes: {
          proxy: (spec, ctx, o) =>
            proxy({ ...spec, address: '127.0.0.1', port: 0 }, ctx, o),
        },
      })),
  })
  const udp = createSocket('udp4')
  t.teardown(async () => {
    udp.close()
    await d.stop()
    await host.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const daemon = tm as TrafficManager
  const send = (line: string): Promise<void> =>
    new Promise((resolve, reject) =>
      udp.send(line, daemon.reportAddress.port, '127.0.0.1', e =>
        e ? reject(e) : resolve(),
      ),
    )

  await send(datagram)
  await waitFor(() => daemon.table.accepted === 1, {
    what: 'the test vector datagram accepted',
  })
  const age = /lets\s+(\d+)\s+ms\s+pass/.exec(doc)?.[1]
  t.ok(age, 'the doc says how much time passes')
  clock.advance(Number(age))

  const status = await ask(control, 'status\n')
  t.match(status, /^OK [^\n]*\n$/, 'status is one OK line')
  const wire = JSON.parse(status.slice(3)) as StatusSnapshot
  t.equal(
    wire.reports.listen,
    `127.0.0.1:${daemon.reportAddress.port}`,
    'reports.listen is the bound report socket',
  )
  const listenOnly = new Set(['listen'])
  t.equal(
    JSON.stringify(byType(wire, listenOnly)),
    JSON.stringify(byType(JSON.parse(block('tm-status')), listenOnly)),
    'status answer = the tm-status block (same fields, order and values)',
  )

  // Only persist-list's expiresInMs counts down (wall clock).
  const expires = new Set(['expiresInMs'])
  const exact = new Set<string>()
  const steps = transcript()
  t.ok(steps.length > 0 && steps.every(s => s.answer), 'a full transcript')
  for (const { request, answer } of steps) {
    const got = (await ask(control, `${request}\n`)).replace(/\n$/, '')
    const varying = request.startsWith('persist-list') ? expires : exact
    if (answer.startsWith('OK ') && got.startsWith('OK '))
      t.equal(
        JSON.stringify(byType(JSON.parse(got.slice(3)), varying)),
        JSON.stringify(byType(JSON.parse(answer.slice(3)), varying)),
        request,
      )
    else t.equal(got, answer, request)
  }

  for (const line of block('load-dropped').trim().split('\n')) {
    const [reason = '', ...rest] = line.split(' ')
    const before = (daemon.table.drops as Record<string, number>)[reason]
    t.not(before, undefined, `${reason} is a drop reason`)
    await send(rest.join(' '))
    await waitFor(
      () =>
        (daemon.table.drops as Record<string, number>)[reason] ===
        (before ?? 0) + 1,
      { what: `a datagram dropped as ${reason}` },
    )
  }
  t.equal(daemon.table.accepted, 1, 'none of them was accepted')
})

t.test('control framing limits as the doc states them', async t => {
  const m =
    /Lines\s+longer\s+than\s+(\d+)\s+characters[^`]*are\s+refused\s+with\s+`ERR\s+(\S+)`/.exec(
      doc,
    )
  t.ok(m, 'the doc states the line limit')
  const max = Number(m?.[1])
  const { config } = parseConfig(block('tmd.conf'), 'PROTOCOL.md')
  if (!config) {
    t.fail('tmd.conf block')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'tm-doc-'))
  const control = join(dir, 'tm.sock')
  const d = await runDaemon({
    name: 'traffic-manager',
    logger: silentLogger(),
    handleSignals: false,
    controlAddress: control,
    load: async () => ({ ...config, port: 0, services: [] }),
    start: c => createTrafficManager({ config: c, logger: silentLogger() }),
  })
  t.teardown(async () => {
    await d.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  t.match(
    await ask(control, `${'x'.repeat(max)}\n`),
    /^ERR KIT_ERR_CONTROL_UNKNOWN /,
    `a line of ${max} bytes is read`,
  )
  t.equal(
    (await ask(control, `${'x'.repeat(max + 1)}\n`)).split(' ')[1],
    m?.[2],
    `a line of ${max + 1} bytes is refused`,
  )
  t.match(await ask(control, 'health\r\n'), /^OK /, 'CR LF is accepted')
  const two = await ask(control, 'health\nflush\n')
  t.match(two, /^OK [^\n]*\n$/, 'one request per connection: one answer')
})
