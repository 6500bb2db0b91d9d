// PROTOCOL.md is what a peer in another language reads (issue 19 item 13):
// its two test vectors are parsed from the document itself and replayed
// against the real BIRD client and codec and the real daemon's control
// socket, so a change to either side that the other does not follow fails.
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  packageVersion,
  runDaemon,
  silentLogger,
  startControlServer,
  type DaemonHandle,
} from '@has/daemon-kit'
import { waitFor, exchange } from '@has/test-support'
import { createVipAnnouncer } from '../src/announcer.js'
import { createBirdClient } from '../src/bird-client.js'
import {
  formatCommand,
  isError,
  parseProtocolRows,
  toggleOutcome,
  type BirdReply,
  type ProtocolCommand,
} from '../src/bird-codec.js'
import type { AnnouncerConfig } from '../src/config.js'
import { parseConfig } from '../src/config.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')

interface Exchange {
  readonly request: string
  readonly answer: string[]
}

/** A ```<lang> block of `> ` and `< ` lines: the lines before the first request, then each request with the lines answering it. */
function session(lang: string): { greeting: string[]; steps: Exchange[] } {
  const body = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc)?.[1]
  if (body === undefined) throw new Error(`PROTOCOL.md has no ${lang} block`)
  const greeting: string[] = []
  const steps: Exchange[] = []
  for (const line of body.split('\n')) {
    if (line === '') continue
    const m = /^([<>]) (.*)$/.exec(line)
    if (!m) throw new Error(`not a > or < line in ${lang}: ${line}`)
    const text = m[2] ?? ''
    if (m[1] === '>') steps.push({ request: text, answer: [] })
    else (steps.at(-1)?.answer ?? greeting).push(text)
  }
  return { greeting, steps }
}

const lines = (ls: readonly string[]): string => ls.map(l => `${l}\n`).join('')

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'has-va-doc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A Unix socket server whose connections are destroyed on close. */
async function serve(
  path: string,
  onConnection: (s: Socket) => void,
): Promise<{ close(): Promise<void> }> {
  const open = new Set<Socket>()
  const server: Server = createServer(s => {
    open.add(s)
    s.on('close', () => open.delete(s))
    s.on('error', () => s.destroy())
    s.setEncoding('utf8')
    onConnection(s)
  })
  await new Promise<void>(r => server.listen(path, r))
  return {
    close: () =>
      new Promise<void>(r => {
        for (const s of open) s.destroy()
        server.close(() => r())
      }),
  }
}

/** Calls `each` with every complete line received on `s`. */
const onLines = (s: Socket, each: (line: string) => void): void => {
  let buf = ''
  s.on('data', (chunk: string) => {
    buf += chunk
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      each(line)
    }
  })
}

/** What vip-announcer makes of a reply (announcer.ts: verify and doSync). */
function reading(command: ProtocolCommand, name: string, r: BirdReply): string {
  if (isError(r)) return `refused ${r.code}`
  if (command === 'show protocols')
    return parseProtocolRows(r).find(x => x.name === name)?.proto ?? 'missing'
  return toggleOutcome(r, command)
}

t.test(
  'BIRD control socket vector: the client writes the > lines and reads the < lines as the doc says',
  async t => {
    const { greeting, steps } = session('bird-ctl')
    const path = join(tempDir(t), 'bird.ctl')
    const received: string[] = []
    // BIRD's side: the doc's lines, answer n after the n-th line received.
    const bird = await serve(path, s => {
      s.write(lines(greeting))
      onLines(s, line => {
        s.write(lines(steps[received.length]?.answer ?? []))
        received.push(line)
      })
    })
    const client = createBirdClient({ path, timeoutMs: 5000 })
    t.teardown(async () => {
      client.close()
      await bird.close()
    })
    // PROTOCOL.md's "When" order, and the readings its prose states.
    const script: [ProtocolCommand, string, string][] = [
      ['disable', 'vip4', 'unchanged'],
      ['show protocols', 'vip4', 'Static'],
      ['enable', 'vip4', 'changed'],
      ['enable', 'vip4', 'unchanged'],
      ['disable', 'vip4', 'changed'],
      ['disable', 'vip6', 'refused 8003'],
    ]
    t.equal(steps.length, script.length, 'one exchange per command')
    t.match(
      doc,
      /reads, in order:\s+unchanged,\s+Proto\s+`Static`,\s+changed,\s+unchanged,\s+changed,\s+refused\s+\(`8003`\)/,
      'the prose states the same readings',
    )
    for (const [i, [command, name, want]] of script.entries()) {
      const line = formatCommand(command, name)
      t.equal(
        line,
        `${steps[i]?.request}\n`,
        `formatCommand writes ${line.trim()}`,
      )
      const r = await client.command(line)
      t.equal(reading(command, name, r), want, `${line.trim()}: ${want}`)
    }
    t.same(
      received,
      script.map((_, i) => steps[i]?.request),
      'BIRD got them',
    )
  },
)

type Json = Record<string, unknown>

/** Answer fields the doc shows with an example value, compared by type. */
const BY_TYPE: Readonly<Record<string, readonly (readonly string[])[]>> = {
  status: [
    ['bird', 'socket'],
    ['trafficManager', 'socket'],
  ],
  version: [['version']],
}

/** Sends one request line on a new connection; resolves with the whole answer. */
const ask = (path: string, request: string): Promise<string> =>
  exchange(path, `${request}\n`, 5000)

t.test(
  "control socket vector: the real daemon answers each request with the doc's line",
  async t => {
    const { greeting, steps } = session('va-control')
    t.same(greeting, [], 'every answer follows a request')
    const dir = tempDir(t)
    const birdPath = join(dir, 'bird.ctl')
    const tmPath = join(dir, 'tm.sock')
    const vaPath = join(dir, 'va.sock')

    // Stand-in BIRD with one static protocol, vip4, starting disabled.
    let enabled = false
    const toggle = (on: boolean): string => {
      const was = enabled
      enabled = on
      const [code, word] = on ? [11, 'enabled'] : [9, 'disabled']
      return was === on
        ? `00${code - 1}-vip4: already ${word}\n0000 \n`
        : `00${code}-vip4: ${word}\n0000 \n`
    }
    const bird = await serve(birdPath, s => {
      s.write('0001 BIRD 2.0.12 ready.\n')
      onLines(s, line => {
        if (line === 'enable "vip4"') s.write(toggle(true))
        else if (line === 'disable "vip4"') s.write(toggle(false))
        else if (line === 'show protocols "vip4"')
          s.write(
            '2002-Name       Proto      Table      State  Since         Info\n' +
              `1002-vip4       Static     master4    ${enabled ? 'up  ' : 'down'}   12:00:00.000\n0000 \n`,
          )
        else s.write('8003 No protocols match\n')
      })
    })
    // Stand-in traffic-manager: its `health` answer (its PROTOCOL.md).
    const tm = await startControlServer({
      address: tmPath,
      handlers: {
        health: () => ({
          services: [
            {
              name: '10.0.0.100:80',
              dataplane: 'proxy',
              running: true,
              eligible: 2,
            },
          ],
        }),
      },
    })
    const parsed = parseConfig(
      [
        `bird-socket ${birdPath}`,
        'protocol vip4',
        `traffic-manager ${tmPath}`,
        'service 10.0.0.100:80',
        'check-interval 10ms',
        'settle 1s',
        'drain 0',
      ].join('\n'),
      '/etc/has/vip-announcer.conf',
    )
    const config = parsed.config
    if (!config) throw new Error(JSON.stringify(parsed.errors))

    // The fixed clock makes `since` and `detail` exact: healthy at T0,
    // then at T0 + 1 s (the settle time) announced.
    let clock = Date.parse('2025-12-01T12:00:00.000Z')
    let daemon: DaemonHandle<AnnouncerConfig> | undefined
    t.teardown(async () => {
      await daemon?.stop()
      await tm.close()
      await bird.close()
    })
    daemon = await runDaemon<AnnouncerConfig>({
      name: 'vip-announcer',
      version: packageVersion(import.meta.url),
      logger: silentLogger(),
      load: async () => config,
      start: c => createVipAnnouncer({ config: c, now: () => clock }),
      controlAddress: vaPath,
      handleSignals: false,
    })
    const service = daemon.service
    await waitFor(
      () => (service.status() as { state: string }).state === 'settling',
      { what: 'settling after the first healthy answer' },
    )
    clock += 1000

    for (const step of steps) {
      const want = step.answer.join('\n')
      t.equal(step.answer.length, 1, `one answer line to ${step.request}`)
      const got =
        step.request === 'status'
          ? // Announced in BIRD, both peers connected (re-sends run meanwhile).
            await waitFor(
              async () => {
                const a = await ask(vaPath, 'status')
                const v = JSON.parse(a.slice(3)) as {
                  announced: boolean
                  bird: { connected: boolean }
                  trafficManager: { connected: boolean }
                }
                return (
                  v.announced &&
                  v.bird.connected &&
                  v.trafficManager.connected &&
                  a
                )
              },
              { what: 'status: announced, BIRD and traffic-manager connected' },
            )
          : await ask(vaPath, step.request)
      t.ok(got.endsWith('\n') && !got.slice(0, -1).includes('\n'), 'one line')
      t.equal(
        comparable(got.slice(0, -1), want, BY_TYPE[step.request] ?? [], t),
        want,
        `answer to ${step.request}`,
      )
    }
  },
)

/**
 * The answer with the fields compared by type set to the doc's values
 * (after checking the types agree), so the rest is compared as text:
 * every value and the order of the keys.
 */
function comparable(
  got: string,
  want: string,
  byType: readonly (readonly string[])[],
  t: Test,
): string {
  if (!got.startsWith('OK ') || !want.startsWith('OK ') || !byType.length)
    return got
  const g = JSON.parse(got.slice(3)) as Json
  const w = JSON.parse(want.slice(3)) as Json
  for (const path of byType) {
    const key = path.at(-1) ?? ''
    const up = (o: Json): Json | undefined =>
      path
        .slice(0, -1)
        .reduce<Json | undefined>((x, k) => x?.[k] as Json | undefined, o)
    const gp = up(g)
    const wp = up(w)
    t.equal(typeof gp?.[key], typeof wp?.[key], `${path.join('.')}: type`)
    if (gp && wp) gp[key] = wp[key]
  }
  return `OK ${JSON.stringify(g)}`
}
