// PROTOCOL.md is what another implementation reads (issue 19 item 13): its
// test vectors are parsed from the document itself and checked against the
// real daemon, so a change to either that the other does not follow fails.
import t from 'tap'
import { exchange } from '@has/test-support'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageVersion, runDaemon, silentLogger } from '@has/daemon-kit'
import { agentReply } from '../src/agent-check.js'
import { AGENT_MAX_CONNECTION_MS } from '../src/agent-server.js'
import { NAME } from '../src/cli.js'
import { createTrafficClient, type TrafficClient } from '../src/client.js'
import { loadConfig } from '../src/config.js'
import { FLAGS, type Flag } from '../src/flag.js'
import { writeProcfsFixture } from '../src/procfs-fixture.js'
import { Receiver } from './helpers/receiver.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')

/** The body of the fenced block with this info string. */
function block(lang: string): string {
  const esc = lang.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const m = new RegExp('```' + esc + '\\n([\\s\\S]*?)```').exec(doc)
  if (!m) throw new Error(`PROTOCOL.md has no \`\`\`${lang} block`)
  return m[1] as string
}

/** A number the prose states, found by a pattern with one group. */
function stated(re: RegExp): number {
  const m = re.exec(doc)
  if (!m) throw new Error(`PROTOCOL.md does not state ${String(re)}`)
  return Number(m[1])
}

/** Inline `code` the prose quotes after a pattern, line breaks as spaces. */
function quoted(re: RegExp): string {
  const m = re.exec(doc)
  if (!m) throw new Error(`PROTOCOL.md does not quote ${String(re)}`)
  return (m[1] as string).replace(/\s+/g, ' ')
}

const SEMVER = /"version":"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?"/

t.test(
  'control socket and agent-check: the test vector of section 1',
  async t => {
    const clock = stated(/on\s+a\s+clock\s+fixed\s+at\s+(\d+)\s+ms/)
    const dir = mkdtempSync(join(tmpdir(), 'tc-doc-'))
    // Stop the daemon (it sends its final report) before the manager closes.
    let stop = async (): Promise<unknown> => undefined
    let closeManager = (): void => {}
    t.teardown(async () => {
      await stop()
      closeManager()
      rmSync(dir, { recursive: true, force: true })
    })

    const proc = new Map(
      block('tc-proc')
        .trim()
        .split('\n')
        .map(l => l.split(/\s+/) as [string, string]),
    )
    const n = (k: string): number => {
      const v = proc.get(k)
      if (v === undefined) throw new Error(`tc-proc block lacks ${k}`)
      return Number(v)
    }
    writeProcfsFixture(join(dir, 'proc'), {
      bogomips: n('bogomips'),
      cpus: n('cpus'),
      memTotalMB: n('memTotalMB'),
      memFreeMB: n('memFreeMB'),
      idleShare: n('idleShare'),
    })

    const manager = await Receiver.open(
      '127.0.0.1',
      'a-shared-secret-of-32-characters',
    )
    closeManager = () => manager.close()
    const conf = block('tcd.conf')
    t.match(conf, 'master1 127.0.0.1:7070\n')
    t.match(conf, 'agent_port 7071\n')
    const file = join(dir, 'tcd.conf')
    writeFileSync(
      file,
      conf
        .replace('127.0.0.1:7070', `127.0.0.1:${manager.port}`)
        .replace('agent_port 7071', 'agent_port 0'),
    )

    // The seam: the CLI's runDaemon call (src/cli.ts), with the clock and
    // epoch fixed instead of Date.now and senderEpoch(), and no signals.
    let client: TrafficClient | undefined
    const control = join(dir, 'c.sock')
    const daemon = await runDaemon({
      name: NAME,
      version: packageVersion(import.meta.url),
      logger: silentLogger(),
      handleSignals: false,
      load: () => loadConfig(file),
      start: async config => {
        const c = createTrafficClient({
          config,
          epoch: clock,
          now: () => clock,
        })
        client = c
        await c.start()
        return c
      },
      controlAddress: control,
    })
    stop = () => daemon.stop()
    const agentPort = client?.agentAddress?.port
    if (agentPort === undefined) throw new Error('no agent-check listener')

    const first = await manager.next()
    t.equal(first.report.seq, 1, 'the start sent seq 1')

    const ask = (line: string): Promise<string> =>
      exchange({ path: control }, line)
    // Ports bound at random become the doc's again; the version any semver.
    const norm = (line: string): string =>
      line
        .replaceAll(`"127.0.0.1:${manager.port}"`, '"127.0.0.1:7070"')
        .replaceAll(`"127.0.0.1:${agentPort}"`, '"127.0.0.1:7071"')
        .replace(SEMVER, '"version":"<semver>"')

    const status = JSON.stringify(JSON.parse(block('tc-status')))
    t.equal(norm(await ask('status\n')), `OK ${status}\n`, 'status')

    let request: string | undefined
    for (const line of block('tc-control').split('\n').filter(Boolean)) {
      if (line.startsWith('> ')) {
        request = line.slice(2)
      } else if (line.startsWith('< ')) {
        if (request === undefined) throw new Error(`no request before ${line}`)
        t.equal(
          norm(await ask(`${request}\n`)),
          `${norm(line.slice(2))}\n`,
          request,
        )
        request = undefined
      } else if (line.startsWith('report ')) {
        const m = /^report seq (\d+) load (\d+) state (\S+)$/.exec(line)
        if (!m) throw new Error(`bad report line: ${line}`)
        const r = await manager.next()
        t.equal(r.macOk, true, 'signed with the key')
        t.match(
          r.report,
          { seq: Number(m[1]), load: Number(m[2]), state: m[3] },
          line,
        )
      } else if (line.startsWith('agent ')) {
        t.equal(
          await exchange({ port: agentPort, host: '127.0.0.1' }),
          `${line.slice('agent '.length)}\n`,
          line,
        )
      } else {
        throw new Error(`unknown line in the tc-control block: ${line}`)
      }
    }
    t.equal(request, undefined, 'every request has its answer')

    const max = stated(/line\s+longer\s+than\s+(\d+)\s+characters/)
    t.match(
      await ask(`${'a'.repeat(max)}\n`),
      /^ERR KIT_ERR_CONTROL_UNKNOWN unknown command "a+"; known: /,
      `a line of ${max} characters is read`,
    )
    t.equal(
      await ask(`${'a'.repeat(max + 1)}\n`),
      `${quoted(/is\s+answered\s+`(ERR KIT_ERR_LINE_TOO_LONG[^`]*)`/)}\n`,
      `a line of ${max + 1} characters is refused`,
    )
    t.equal(
      await ask('status\tx\n'),
      `${quoted(/`(ERR KIT_ERR_CONTROL_SYNTAX[^`]*)`:\s+empty\s+line,\s+a\s+line\s+with\s+a\s+control\s+character\s+\(tab\s+included\)/)}\n`,
      'a tab is a control character',
    )
  },
)

t.test('agent-check replies: the test vector of section 2', async t => {
  const rows = block('tc-agent').trim().split('\n')
  t.ok(rows.length >= FLAGS.length)
  for (const row of rows) {
    const m = /^(\S+)\s+(\S+)\s+(.+)$/.exec(row)
    const flag = m?.[1] as Flag | undefined
    if (!m || !flag || !FLAGS.includes(flag))
      throw new Error(`bad tc-agent row: ${row}`)
    t.equal(agentReply(flag, Number(m[2])), `${m[3]}\n`, row)
  }
  t.equal(
    stated(
      /connection\s+is\s+destroyed\s+(\d+)\s+s\s+after\s+it\s+was\s+accepted/,
    ) * 1000,
    AGENT_MAX_CONNECTION_MS,
    "the stated bound is the listener's",
  )
})
