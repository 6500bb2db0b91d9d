// PROTOCOL.md is what a peer in another language reads (issue 19 item 13):
// its section 4 examples are read from the document itself and checked
// against ldirectord running here, so neither can change without the other.
import t, { type Test } from 'tap'
import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  packageVersion,
  runDaemon,
  silentLogger,
  type DaemonHandle,
} from '@has/daemon-kit'
import { parseReport, verifyReport } from '@has/traffic-manager/protocol'
import { ManualClock, waitFor, exchange } from '@has/test-support'
import { loadConfig, type LdConfig } from '../src/config.js'
import { createLdirectord, type Ldirectord } from '../src/ldirectord.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')

/** The text of the fenced block with this info string. */
function block(info: string): string {
  const m = new RegExp('```' + info + '\\n([\\s\\S]*?)```').exec(doc)
  if (!m) throw new Error(`PROTOCOL.md has no \`\`\`${info} block`)
  return m[1] as string
}
const lines = (info: string): string[] => block(info).split('\n').slice(0, -1)
/** A JSON block as the daemon writes it: on one line, no white space. */
const oneLine = (info: string): string =>
  JSON.stringify(JSON.parse(block(info)))

/** The doc's start time: every ISO time in its status blocks derives from it. */
const T0 = Number(/manual clock\s+starting at (\d+) ms/.exec(doc)?.[1])

function tempDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'ldpd-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}

/** One request on a fresh connection; resolves with all it got back. */
const ask = (address: string, request: string): Promise<string> =>
  exchange(address, request, 5000)

/**
 * A stand-in control socket (traffic-manager, traffic-client): records
 * every byte each connection sent, in connection order, and answers the
 * first line.
 */
async function linePeer(
  t: Test,
  address: string,
  answer: (line: string) => string,
): Promise<{ address: string; received: { text: string }[] }> {
  const received: { text: string }[] = []
  const server = createServer(s => {
    const conn = { text: '' }
    received.push(conn)
    let answered = false
    s.on('data', c => {
      conn.text += c.toString('utf8')
      const nl = conn.text.indexOf('\n')
      if (nl >= 0 && !answered) {
        answered = true
        s.end(answer(conn.text.slice(0, nl)))
      }
    })
    s.on('error', () => s.destroy())
  })
  await new Promise<void>(r => server.listen(address, r))
  t.teardown(() => new Promise<void>(r => server.close(() => r())))
  return { address, received }
}

/**
 * The seam: the daemon as cli.ts wires it (runDaemon serving the kit's
 * control handlers around createLdirectord), but on a ManualClock and
 * with a fixed epoch instead of the state file.
 */
async function startLd(
  t: Test,
  dir: string,
  configText: string,
  clock: ManualClock,
  epoch?: number,
): Promise<{
  file: string
  control: string
  ld: () => Ldirectord
  handle: DaemonHandle<LdConfig>
}> {
  const file = join(dir, 'ldirectord.cf')
  writeFileSync(file, configText)
  const control = join(dir, 'ld.sock')
  let ld: Ldirectord | undefined
  const handle = await runDaemon<LdConfig>({
    name: 'ldirectord',
    version: packageVersion(import.meta.url),
    logger: silentLogger(),
    load: () => loadConfig(file),
    start: async config =>
      (ld = await createLdirectord({
        config,
        logger: silentLogger(),
        clock,
        ...(epoch !== undefined ? { epoch } : {}),
      })),
    controlAddress: control,
    handleSignals: false,
  })
  t.teardown(() => handle.stop())
  return {
    file,
    control,
    ld: () => ld as Ldirectord,
    handle,
  }
}

interface DirectorView {
  weights: { applied: boolean }[]
}
interface HasView {
  drainsSent: number
  trafficClient: string | null
}

const semver = /"version":"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?"/
const anyVersion = (s: string): string =>
  s.replace(semver, '"version":"<semver>"')

t.test(
  'director mode: what the traffic-manager gets, control answers',
  async t => {
    t.ok(Number.isSafeInteger(T0), 'the doc names the start time')
    const dir = tempDir(t)
    const docTm = '/run/has/traffic-manager.sock'
    const tm = await linePeer(t, join(dir, 'tm.sock'), line =>
      line === 'status'
        ? 'OK {"services":[{"name":"192.0.2.10:80","persistentMs":300000}]}\n'
        : 'OK {}\n',
    )
    const cf = block('ldirectord-cf-director')
    t.ok(cf.includes(docTm))
    const clock = new ManualClock(T0)
    const { file, control, ld } = await startLd(
      t,
      dir,
      cf.replace(docTm, tm.address),
      clock,
    )
    // The persistent comparison goes out at start, before any check.
    await waitFor(() => tm.received[0]?.text.endsWith('\n'), {
      what: 'the status request to the traffic-manager',
    })
    clock.advance(0)
    await waitFor(
      () => {
        const w = (ld().status().actions as DirectorView).weights
        return w.length === 4 && w.every(x => x.applied)
      },
      { what: 'four weights applied' },
    )
    t.same(
      tm.received.map(c => c.text),
      lines('tm-requests').map(l => `${l}\n`),
      'the traffic-manager got exactly the documented lines',
    )

    const status = await ask(control, 'status\n')
    t.equal(
      status.replace(JSON.stringify(tm.address), JSON.stringify(docTm)),
      `OK ${oneLine('ld-status-director')}\n`,
      'status answer',
    )

    const exchanges = lines('ld-control')
    t.ok(exchanges.length >= 2 && exchanges.length % 2 === 0)
    for (let i = 0; i < exchanges.length; i += 2) {
      const req = exchanges[i] as string
      const ans = exchanges[i + 1] as string
      t.ok(req.startsWith('> ') && ans.startsWith('< '), 'request, answer')
      const reply = await ask(control, `${req.slice(2)}\n`)
      if (req === '> version') t.match(reply, semver, 'a semver')
      t.equal(anyVersion(reply), anyVersion(`${ans.slice(2)}\n`), req.slice(2))
    }

    // One request per connection: the second line is not executed.
    t.match(doc, /anything after it is not executed/)
    const two = await ask(control, 'version\nreload\n')
    t.match(two, /^OK \{"daemon":"ldirectord"[^\n]*\n$/, 'one answer only')

    const limit =
      /Longest request line: (\d+) bytes, not counting the line end; a longer\s+one is answered `([^`]+)`/.exec(
        doc.replace(/\n\s*/g, ' '),
      )
    t.ok(limit, 'the doc states the line limit and its answer')
    const n = Number(limit?.[1])
    t.equal(await ask(control, `${'a'.repeat(n + 1)}\n`), `${limit?.[2]}\n`)
    t.match(
      await ask(control, `${'a'.repeat(n)}\n`),
      /^ERR KIT_ERR_CONTROL_UNKNOWN /,
      `a line of ${n} bytes is read`,
    )

    t.ok(doc.includes('`OK {"applied":false}` when the\nfile was refused'))
    writeFileSync(file, 'virtual = nonsense\n')
    t.equal(await ask(control, 'reload\n'), 'OK {"applied":false}\n')
  },
)

t.test('HAS mode: load reports, traffic-client commands, status', async t => {
  const dir = tempDir(t)
  const epoch = Number(/The process epoch is (\d+)\./.exec(doc)?.[1])
  t.ok(Number.isSafeInteger(epoch), 'the doc names the epoch')
  const datagrams: string[] = []
  const sink = createSocket('udp4')
  sink.on('message', m => datagrams.push(m.toString('latin1')))
  await new Promise<void>(r => sink.bind(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>(r => sink.close(() => r())))
  const tc = await linePeer(t, join(dir, 'tc.sock'), line =>
    line === 'pause'
      ? 'OK {"previous":"report","flag":"paused"}\n'
      : 'OK {"previous":"paused","flag":"report"}\n',
  )
  const docTm = '192.0.2.1:7070'
  const docTc = '/run/has/traffic-client.sock'
  const cf = block('ldirectord-cf-has')
  t.ok(cf.includes(docTm) && cf.includes(docTc))
  const clock = new ManualClock(T0)
  const text = cf
    .replace(docTm, `127.0.0.1:${sink.address().port}`)
    .replace(docTc, tc.address)
  const { file, control, ld } = await startLd(t, dir, text, clock, epoch)
  const has = (): HasView => ld().status().actions as HasView

  clock.advance(0)
  await waitFor(() => has().drainsSent === 1 && datagrams.length === 1, {
    what: 'the first drain',
  })
  clock.advance(5000)
  await waitFor(
    () =>
      has().drainsSent === 2 &&
      datagrams.length === 2 &&
      ld().status().virtuals[0]?.reals[0]?.failures === 2,
    { what: 'the drain re-sent on the tick, and the second check' },
  )
  t.equal(
    await ask(control, 'status\n'),
    `OK ${oneLine('ld-status-has')}\n`,
    'status answer',
  )

  writeFileSync(file, text.replace('checktype = off', 'checktype = on'))
  t.equal(await ask(control, 'reload\n'), 'OK {"applied":true}\n')
  clock.advance(0)
  await waitFor(
    () => has().trafficClient === 'resume' && datagrams.length === 3,
    { what: 'the up report and resume' },
  )

  const load = lines('ld-load')
  t.same(datagrams, load, 'the traffic-manager got exactly these datagrams')
  t.same(
    tc.received.map(c => c.text),
    lines('tc-requests').map(l => `${l}\n`),
    'the traffic-client got exactly the documented lines',
  )
  // The receiver's codec accepts the documented lines with the doc's key.
  const key = /^reportkey = (\S+)$/m.exec(cf)?.[1] ?? ''
  for (const l of load) {
    const p = parseReport(l)
    t.ok(p.ok && verifyReport(p, key), `traffic-manager accepts ${l}`)
  }
})
