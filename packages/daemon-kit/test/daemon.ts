import t from 'tap'
import { waitFor } from '@has/test-support'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { Writable } from 'node:stream'
import { runDaemon, type Service } from '../src/daemon.js'
import { controlRequest } from '../src/control.js'
import { createLogger } from '../src/logger.js'
import { IssueList, readConfigFile, sourceLines } from '../src/config-source.js'
import { parseIntRange } from '../src/units.js'

function sink() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { lines, stream }
}

async function load(path: string): Promise<{ port: number }> {
  const text = await readConfigFile(path)
  const issues = new IssueList()
  let port = 0
  for (const l of sourceLines(text, path)) {
    const [k, v = ''] = l.text.split(/\s+/)
    if (k !== 'port') issues.error(l, `unknown directive "${k}"`)
    else {
      const p = parseIntRange(v, 1, 65535)
      if (p === undefined) issues.error(l, 'port must be 1..65535', v)
      else port = p
    }
  }
  issues.throwIfAny()
  return { port }
}

t.test('reload validates then swaps; control and metrics answer', async t => {
  const dir = t.testdir({ 'd.conf': 'port 10\n' })
  const file = join(dir, 'd.conf')
  const applied: number[] = []
  const { lines, stream } = sink()
  const service: Service<{ port: number }> = {
    reload: c => void applied.push(c.port),
    close: async () => {},
    status: () => ({ applied }),
    commands: { echo: args => args },
  }
  const d = await runDaemon({
    name: 'testd',
    version: '1.2.3',
    logger: createLogger({ name: 'testd', destination: stream }),
    load: () => load(file),
    start: async () => service,
    // Unix socket paths are limited to 107 bytes: keep them short.
    controlAddress: join(mkdtempSync(join(tmpdir(), 'kit-')), 'ctl.sock'),
    metricsListen: '127.0.0.1:0',
    handleSignals: false,
  })
  t.equal(d.config.port, 10)
  writeFileSync(file, 'port 11\n')
  t.equal(await d.reload(), true)
  t.equal(d.config.port, 11)
  writeFileSync(file, 'port 99999\n')
  t.equal(await d.reload(), false, 'bad file refused')
  t.equal(d.config.port, 11, 'last good config kept')
  const rejected = lines.find(
    l => l.msg === 'reload rejected; keeping the last good configuration',
  )
  t.match(rejected, { issues: [{ line: 1, value: '99999' }] })

  const ctl = d.control!.address
  t.same(await controlRequest(ctl, 'status'), { applied: [11] })
  t.same(await controlRequest(ctl, 'echo', ['a', 'b']), ['a', 'b'])
  await t.rejects(controlRequest(ctl, 'nope'), {
    code: 'KIT_ERR_CONTROL_UNKNOWN',
  })

  const res = await fetch(`http://127.0.0.1:${d.metrics!.address.port}/metrics`)
  const text = await res.text()
  t.match(text, /has_config_reloads_total\{result="rejected"\} 1/)
  t.match(text, /has_build_info\{daemon="testd",version="1.2.3"\} 1/)

  t.equal(await d.stop(), 0)
  t.equal(await d.done, 0)
})

t.test('graceful stop past its deadline forces exit 1', async t => {
  const dir = t.testdir({ 'd.conf': 'port 10\n' })
  const d = await runDaemon({
    name: 'slowd',
    logger: createLogger({ name: 'slowd', level: 'silent' }),
    load: () => load(join(dir, 'd.conf')),
    start: async () => ({
      reload: () => {},
      close: () => new Promise<void>(() => {}),
      status: () => ({}),
    }),
    shutdownDeadlineMs: 10,
    handleSignals: false,
  })
  t.equal(await d.stop(), 1)
})

t.test('watchPaths: an edit of the file reloads it', async t => {
  const dir = t.testdir({ 'd.conf': 'port 10\n' })
  const file = join(dir, 'd.conf')
  const { lines, stream } = sink()
  const d = await runDaemon({
    name: 'watchd',
    logger: createLogger({ name: 'watchd', destination: stream }),
    load: () => load(file),
    start: async () => ({
      reload: () => {},
      close: async () => {},
      status: () => ({}),
    }),
    watchPaths: [file],
    handleSignals: false,
  })
  // The watcher is ready a moment after start and says nothing: edit the
  // file until a reload shows it is watching (bounded by waitFor).
  let port = 10
  await waitFor(
    () => {
      if (d.config.port !== 10) return true
      writeFileSync(file, `port ${++port}\n`)
      return false
    },
    {
      what: 'an edit of the watched file applied',
      timeoutMs: 10_000,
      intervalMs: 300,
    },
  )
  t.not(d.config.port, 10, 'the edit applied')
  t.ok(lines.some(l => l.msg === 'configuration reloaded'))
  t.equal(await d.stop(), 0)
})
