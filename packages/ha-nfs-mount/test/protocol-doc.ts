// PROTOCOL.md is what a peer in another language reads (issue 19 item 13):
// its RPC bytes and control-socket exchanges are read from the document
// here and checked against the real codec, probe client and control handlers.
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageVersion, runDaemon, silentLogger } from '@has/daemon-kit'
import { portOf, exchange } from '@has/test-support'
import { loadConfig, type HnmConfig } from '../src/config.js'
import type { Mounter } from '../src/mounter.js'
import { FakeOps } from './helpers/fake-ops.js'
import {
  buildNullCall,
  parseReply,
  RecordReader,
  replyVerdict,
} from '../src/rpc.js'
import { rpcNullProbe } from '../src/rpc-client.js'
import { createHaNfsMount } from '../src/service.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')
/** The doc's text with line breaks as spaces, for sentences it states. */
const prose = doc.replace(/\s+/g, ' ')

/** Every fenced block of PROTOCOL.md with this info string, in order. */
function blocks(lang: string): string[] {
  const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm')
  const out = [...doc.matchAll(re)].map(m => m[1] as string)
  if (!out.length) throw new Error(`PROTOCOL.md has no \`\`\`${lang} block`)
  return out
}

interface Word {
  readonly value: number
  readonly what: string
}

/** A word block: `<8 hex digits>  <field> [<decimal> [= NAME]]` lines, then `-> ...`. */
function wordBlock(text: string): {
  bytes: Buffer
  words: Word[]
  result: string | undefined
} {
  const words: Word[] = []
  let result: string | undefined
  for (const line of text.split('\n').filter(Boolean)) {
    const w = /^([0-9a-f]{8}) {2}(\S.*)$/.exec(line)
    const r = /^-> (.+)$/.exec(line)
    if (w) words.push({ value: parseInt(w[1] as string, 16), what: w[2] ?? '' })
    else if (r && result === undefined) result = r[1]
    else throw new Error(`PROTOCOL.md: not a word line: ${line}`)
  }
  const bytes = Buffer.alloc(words.length * 4)
  words.forEach((w, i) => bytes.writeUInt32BE(w.value, i * 4))
  return { bytes, words, result }
}

/**
 * What is wrong with a block's annotations: the decimal a line states
 * (`vers 3`, `prog 100003 = NFS`) must be its word's value, and a record
 * mark's text its last-fragment bit and length.
 */
function annotationErrors(words: readonly Word[]): string[] {
  const errors: string[] = []
  for (const w of words) {
    const hex = w.value.toString(16).padStart(8, '0')
    const mark =
      /^record mark: (last fragment|more fragments), (\d+) bytes$/.exec(w.what)
    const f = /^[a-z_]+(?: [a-z_]+)?(?: (\d+)(?: = [A-Z_]+)?)?$/.exec(w.what)
    if (mark) {
      const last = mark[1] === 'last fragment' ? 1 : 0
      if (w.value >>> 31 !== last || (w.value & 0x7fffffff) !== Number(mark[2]))
        errors.push(`${hex}: ${w.what}`)
    } else if (!f)
      errors.push(`${hex}: "${w.what}" is not <field> [n [= NAME]]`)
    else if (f[1] !== undefined && w.value !== Number(f[1]))
      errors.push(`${hex}: ${w.what}`)
  }
  return errors
}

/** The word whose annotation starts with this field name. */
function field(words: readonly Word[], name: string): number {
  const w = words.find(x => x.what === name || x.what.startsWith(`${name} `))
  if (!w) throw new Error(`PROTOCOL.md: no ${name} word`)
  return w.value
}

const call = wordBlock(blocks('rpc-call')[0] as string)
const replies = blocks('rpc-reply').map(b => {
  const v = wordBlock(b)
  const m = /^xid ([0-9a-f]{8}): (.+)$/.exec(v.result ?? '')
  if (!m) throw new Error(`PROTOCOL.md: rpc-reply without "-> xid ...: ..."`)
  return { ...v, xid: parseInt(m[1] as string, 16), detail: m[2] as string }
})

t.test('CALL: the encoder writes the documented bytes', async t => {
  t.same(annotationErrors(call.words), [], 'annotations state the words')
  t.equal(call.bytes.length, 44, '44 bytes in all')
  const xid = field(call.words, 'xid')
  const vers = field(call.words, 'vers')
  t.same(buildNullCall(xid, vers), call.bytes)
})

t.test('REPLY: each vector reassembles and decodes as documented', async t => {
  t.equal(replies.length, 3)
  for (const r of replies) {
    t.same(annotationErrors(r.words), [], `${r.detail}: annotations`)
    const marks = r.words.filter(w => w.what.startsWith('record mark')).length
    const whole = new RecordReader().push(r.bytes)
    t.equal(whole.length, 1, `${r.detail}: one record`)
    t.equal(whole[0]?.length, r.bytes.length - 4 * marks, 'marks stripped')
    const byByte = new RecordReader()
    const pieces = [...r.bytes].flatMap(b => byByte.push(Buffer.from([b])))
    t.same(pieces, whole, `${r.detail}: same record fed byte by byte`)
    const reply = parseReply(whole[0] as Buffer)
    t.equal(reply.xid, r.xid, `${r.detail}: xid`)
    t.equal(replyVerdict(reply).detail, r.detail)
  }
})

t.test('a probe that cannot connect reports {} and why', async t => {
  t.match(prose, 'no call is sent and the map is `{}`')
  const closed = createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = portOf(closed)
  await new Promise(r => closed.close(r))
  const r = await rpcNullProbe({
    host: '127.0.0.1',
    port,
    versions: [3, 4],
    timeoutMs: 5000,
  })
  t.same(r.versions, {})
  t.equal(r.error, 'ECONNREFUSED')
})

// The control test's NFS servers: they answer with the doc's reply
// vectors (xid patched) and record any call that is not the doc's CALL
// with only its xid and version words changed.
const success = replies.find(r => r.detail === 'SUCCESS')
const mismatch = replies.find(r => r.detail === 'PROG_MISMATCH 3-3')

function nfsServer(
  answer: (vers: number) => Buffer,
  badCalls: string[],
): Server {
  return createServer(sock => {
    sock.on('error', () => undefined)
    let buf = Buffer.alloc(0)
    sock.on('data', chunk => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= call.bytes.length) {
        const got = buf.subarray(0, call.bytes.length)
        buf = buf.subarray(call.bytes.length)
        const xid = got.readUInt32BE(4)
        const vers = got.readUInt32BE(20)
        const want = Buffer.from(call.bytes)
        want.writeUInt32BE(xid, 4)
        want.writeUInt32BE(vers, 20)
        if (!got.equals(want)) badCalls.push(got.toString('hex'))
        const reply = Buffer.from(answer(vers))
        reply.writeUInt32BE(xid, 4)
        sock.write(reply)
      }
    })
  })
}

async function listen(s: Server, host: string, port: number): Promise<void> {
  s.listen(port, host)
  const [err] = await Promise.race([
    once(s, 'listening').then(() => [null]),
    once(s, 'error'),
  ])
  if (err) throw err
}

/** Two servers on one port, as two NFS servers would be (bounded retries). */
async function twoServers(
  a: () => Server,
  b: () => Server,
): Promise<{ servers: Server[]; port: number }> {
  for (let i = 0; ; i++) {
    const second = b()
    await listen(second, '127.0.0.2', 0)
    const port = portOf(second)
    const first = a()
    try {
      await listen(first, '127.0.0.1', port)
      return { servers: [first, second], port }
    } catch (e) {
      second.close()
      if (i >= 20 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e
    }
  }
}

const fakeMounter: Mounter = {
  kind: 'bind',
  preflight: async () => undefined,
  mountReplica: async () => undefined,
}

/** Sends raw bytes on a fresh connection; everything read until close. */
const ask = (path: string, bytes: string): Promise<string> =>
  exchange(path, bytes)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
const isObject = (v: Json | undefined): v is { [k: string]: Json } =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Values that differ between runs: matched by type, then taken from the doc. */
const VARYING = new Set([
  'version',
  'mountPoint',
  'at',
  'swapMs',
  'rpcMs',
  'statMs',
])

function settle(got: Json, want: Json | undefined): Json {
  if (Array.isArray(got) && Array.isArray(want))
    return got.map((g, i) => settle(g, want[i]))
  if (isObject(got) && isObject(want)) {
    return Object.fromEntries(
      Object.entries(got).map(([k, v]) => {
        const w = want[k]
        if (VARYING.has(k) && w !== undefined && typeof v === typeof w)
          return [k, w]
        return [k, settle(v, w)]
      }),
    )
  }
  return got
}

/** One `OK <json>\n` line: compact JSON, nothing after it. */
function okJson(t: Test, answer: string): Json {
  t.match(answer, /^OK [^\n]*\n$/, 'one OK line, then the connection closes')
  const text = answer.slice(3, -1)
  const v = JSON.parse(text) as Json
  t.equal(JSON.stringify(v), text, 'compact JSON')
  return v
}

t.test('control socket: the documented exchanges', async t => {
  if (!success || !mismatch) throw new Error('PROTOCOL.md: reply vectors')
  const dir = await mkdtemp(join(tmpdir(), 'hnm-doc-'))
  const badCalls: string[] = []
  const { servers, port } = await twoServers(
    () => nfsServer(() => success.bytes, badCalls),
    () => nfsServer(v => (v === 4 ? mismatch.bytes : success.bytes), badCalls),
  )
  const mnt = join(dir, 'mnt')
  const conf = join(dir, 'hnm.conf')
  // One probe round, at start: interval and stat-interval of an hour
  // leave the state as that round made it while the test asks.
  const configText = (failures: number): string =>
    [
      'interval 1h',
      'probe-timeout 10s',
      'stat-interval 1h',
      `failures ${failures}`,
      'failback-hold never',
      `staging-dir ${join(dir, 'staging')}`,
      `rpc-port ${port}`,
      `127.0.0.1,127.0.0.2:/export ${mnt}`,
    ].join('\n') + '\n'
  await writeFile(conf, configText(2))
  const pkg = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { bin: Record<string, string> }
  const version = packageVersion(import.meta.url)
  const sockPath = join(dir, 'hnm.sock')
  // What cli.ts runs, minus the mount commands: runDaemon (the kit's
  // status/reload/version handlers) around createHaNfsMount.
  const handle = await runDaemon<HnmConfig>({
    name: Object.keys(pkg.bin)[0] ?? '',
    version,
    logger: silentLogger(),
    load: () => loadConfig(conf),
    start: config =>
      createHaNfsMount({
        config,
        ops: new FakeOps(config.mountTimeout),
        mounter: fakeMounter,
      }),
    controlAddress: sockPath,
    handleSignals: false,
  })
  t.teardown(async () => {
    await handle.stop()
    for (const s of servers) s.close()
    await rm(dir, { recursive: true, force: true })
  })

  const lines = (blocks('hnm-control')[0] as string).split('\n').filter(Boolean)
  t.equal(lines.length % 2, 0, 'request and answer lines pair up')
  for (let i = 0; i < lines.length; i += 2) {
    const req = /^> (.*)$/.exec(lines[i] as string)?.[1]
    const want = /^< (.*)$/.exec(lines[i + 1] as string)?.[1]
    if (req === undefined || want === undefined) {
      t.fail(`hnm-control line ${i + 1}: expected "> " then "< "`)
      continue
    }
    const got = await ask(sockPath, `${req}\n`)
    if (!want.startsWith('OK ')) {
      t.equal(got, `${want}\n`, req)
      continue
    }
    const value = okJson(t, got)
    if (isObject(value) && 'version' in value)
      t.equal(value.version, version, 'version is the package version')
    t.equal(
      JSON.stringify(settle(value, JSON.parse(want.slice(3)) as Json)),
      want.slice(3),
      req,
    )
  }

  const status = okJson(t, await ask(sockPath, 'status\n'))
  const want = JSON.parse(blocks('hnm-status')[0] as string) as Json
  const mounts = isObject(status) ? status.mounts : undefined
  const mount = Array.isArray(mounts) ? mounts[0] : undefined
  if (isObject(mount)) {
    t.equal(mount.mountPoint, mnt)
    const last = mount.lastFailover
    t.ok(
      isObject(last) &&
        typeof last.at === 'string' &&
        new Date(last.at).toISOString() === last.at,
      'lastFailover.at is an ISO time',
    )
  } else t.fail('status has a mount')
  t.equal(JSON.stringify(settle(status, want)), JSON.stringify(want), 'status')
  t.same(badCalls, [], 'every call was the documented CALL')

  // Stated in prose: a reload that needs a restart is refused, in an OK.
  t.match(prose, '`OK {"applied":false}` when refused')
  await writeFile(conf, configText(3))
  t.equal(await ask(sockPath, 'reload\n'), 'OK {"applied":false}\n')

  // One request per connection: the second line is never executed.
  t.match(prose, 'Whatever follows the first line is ignored, never executed')
  const two = await ask(sockPath, 'version\nrestart\n')
  t.match(two, /^OK \{"daemon":[^\n]*\n$/, 'one answer, to the first line')

  const tooLong = /`(ERR KIT_ERR_LINE_TOO_LONG [^`]+)`/.exec(prose)?.[1]
  const limit = Number(/longer than (\d+) bytes \(counted/.exec(prose)?.[1])
  t.ok(tooLong && limit, 'the doc states the line limit and its answer')
  t.match(
    await ask(sockPath, `${'x'.repeat(limit)}\n`),
    /^ERR KIT_ERR_CONTROL_UNKNOWN /,
    'a line of the limit is read',
  )
  t.equal(await ask(sockPath, `${'x'.repeat(limit + 1)}\n`), `${tooLong}\n`)
})
