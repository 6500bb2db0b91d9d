import t from 'tap'
import { connect } from 'node:net'
import { once } from 'node:events'
import {
  rmSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs'
import { createServer as createNetServer } from 'node:net'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startMetricsServer } from '../src/metrics-server.js'
import { Registry } from '../src/metrics.js'
import { isLoopbackHost } from '../src/listen-policy.js'
import { privateRuntimeDir } from '../src/socket-path.js'
import {
  defaultControlPath,
  startControlServer,
  controlRequest,
  parseControlLine,
  formatControlAnswer,
  CONTROL_MAX_LINE,
} from '../src/control.js'

t.test('codec', async t => {
  t.same(parseControlLine('weight a b 3'), {
    command: 'weight',
    args: ['a', 'b', '3'],
  })
  t.equal(parseControlLine('  '), undefined)
  t.equal(parseControlLine('Bad!'), undefined)
  t.equal(formatControlAnswer({ ok: true, value: { a: 1 } }), 'OK {"a":1}\n')
  t.equal(
    formatControlAnswer({ ok: false, code: 'E', text: 'a\nb' }),
    'ERR E a b\n',
  )
})

t.test(
  'TCP control: answers in order, errors coded, long lines refused',
  async t => {
    const srv = await startControlServer({
      address: '127.0.0.1:0',
      handlers: {
        slow: () => new Promise(r => setTimeout(() => r('slow'), 20)),
        fast: () => 'fast',
        fail: () => {
          throw Object.assign(new Error('nope'), { code: 'X_ERR_NOPE' })
        },
      },
    })
    t.teardown(() => srv.close())
    t.equal(await controlRequest(srv.address, 'fast'), 'fast')
    await t.rejects(controlRequest(srv.address, 'fail'), {
      code: 'X_ERR_NOPE',
      message: 'nope',
    })

    const [host, port] = srv.address.split(':')
    const s = connect(Number(port), host)
    await once(s, 'connect')
    s.write('x'.repeat(CONTROL_MAX_LINE + 10) + '\n')
    let got = ''
    s.on('data', c => (got += c.toString()))
    await once(s, 'end')
    t.match(got, /ERR KIT_ERR_LINE_TOO_LONG/)
    s.destroy()

    await t.rejects(controlRequest('127.0.0.1:1', 'status', [], 1000), {
      code: 'KIT_ERR_CONTROL_UNREACHABLE',
    })
  },
)

/** Sends raw bytes, returns everything the server wrote before closing. */
async function raw(address: string, bytes: string): Promise<string> {
  const [host, port] = address.split(':')
  const s = connect(Number(port), host)
  await once(s, 'connect')
  let got = ''
  s.on('data', c => (got += c.toString()))
  s.write(bytes)
  await once(s, 'close')
  return got
}

// Issue 19.1: a PERSIST node string "127.0.0.11 1\nweight <svc> <node> 0\nversion"
// forwarded as one argument became three commands on the server.
t.test(
  'control injection: one request per line, one line per connection',
  async t => {
    const calls: string[][] = []
    const srv = await startControlServer({
      address: '127.0.0.1:0',
      handlers: {
        weight: args => (calls.push(args), { ok: true }),
        version: () => 'v',
      },
    })
    t.teardown(() => srv.close())
    const evil = '127.0.0.11 1\nweight web 127.0.0.12 0\nversion'

    await t.rejects(
      controlRequest(srv.address, 'weight', ['web', evil]),
      {
        code: 'KIT_ERR_CONTROL_ARGUMENT',
        message: /white space or a control character/,
      },
      'the client refuses the argument before sending anything',
    )
    for (const bad of ['a b', 'a\tb', 'a\rb', 'a\u0000b', 'a\u0085b', '']) {
      await t.rejects(
        controlRequest(srv.address, 'weight', [bad]),
        { code: 'KIT_ERR_CONTROL_ARGUMENT' },
        JSON.stringify(bad),
      )
    }
    await t.rejects(controlRequest(srv.address, 'weight x', []), {
      code: 'KIT_ERR_CONTROL_ARGUMENT',
    })
    t.same(calls, [], 'no request reached a handler')

    // A client that does not check (an old one, or nc): the server executes
    // the first line only and closes.
    const got = await raw(srv.address, `weight web ${evil}\n`)
    t.equal(got, 'OK {"ok":true}\n', 'one answer, then the connection ends')
    t.same(calls, [['web', '127.0.0.11', '1']], 'only the first line ran')

    t.equal(
      await raw(srv.address, 'version\u0001\n'),
      'ERR KIT_ERR_CONTROL_SYNTAX bad request line\n',
      'control characters are a syntax error',
    )
    t.equal(
      await controlRequest(srv.address, 'version'),
      'v',
      'a plain request still works',
    )
  },
)

// Issue 19.6: `--control 0.0.0.0:7999` accepted `pause` from anywhere.
t.test(
  'TCP control and /metrics refuse non-loopback unless allowed',
  async t => {
    t.ok(
      isLoopbackHost('127.0.0.1') &&
        isLoopbackHost('127.9.8.7') &&
        isLoopbackHost('::1') &&
        isLoopbackHost('localhost'),
    )
    t.ok(
      isLoopbackHost('::ffff:127.0.0.1') && isLoopbackHost('0:0:0:0:0:0:0:1'),
    )
    t.notOk(
      isLoopbackHost('0.0.0.0') ||
        isLoopbackHost('::') ||
        isLoopbackHost('10.0.0.1') ||
        isLoopbackHost('example.org'),
    )

    await t.rejects(
      startControlServer({ address: '0.0.0.0:0', handlers: {} }),
      {
        code: 'KIT_ERR_LISTEN_REMOTE',
        exitCode: 2,
        message: /--control-allow-remote/,
      },
    )
    await t.rejects(startControlServer({ address: '[::]:0', handlers: {} }), {
      code: 'KIT_ERR_LISTEN_REMOTE',
    })
    const registry = new Registry()
    await t.rejects(startMetricsServer({ listen: '0.0.0.0:0', registry }), {
      code: 'KIT_ERR_LISTEN_REMOTE',
      message: /--metrics-allow-remote/,
    })
    // Allowed explicitly: binds (to the wildcard; the test only talks to loopback).
    const c = await startControlServer({
      address: '0.0.0.0:0',
      handlers: { ping: () => 'pong' },
      allowRemote: true,
    })
    t.teardown(() => c.close())
    t.equal(
      await controlRequest(`127.0.0.1:${c.address.split(':').pop()}`, 'ping'),
      'pong',
    )
    const m = await startMetricsServer({
      listen: '0.0.0.0:0',
      registry,
      allowRemote: true,
    })
    t.teardown(() => m.close())
    t.ok(m.address.port > 0)
  },
)

// Issue 19.7: a group member could put a link where a root daemon's socket
// goes; the old code followed links (chmod after listen) and deleted
// whatever was at the path.
t.test(
  'Unix control socket: links and files refused, stale socket replaced, mode 0660',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'kit-sock-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'd.sock')

    const victim = join(dir, 'victim')
    writeFileSync(victim, 'secret')
    chmodSync(victim, 0o600)
    symlinkSync(victim, path)
    await t.rejects(startControlServer({ address: path, handlers: {} }), {
      code: 'KIT_ERR_SOCKET_PATH',
      message: /symbolic link/,
    })
    t.ok(lstatSync(path).isSymbolicLink(), 'the link is left alone')
    t.equal(lstatSync(victim).mode & 0o777, 0o600, 'its target is untouched')

    const file = join(dir, 'file.sock')
    writeFileSync(file, 'data')
    await t.rejects(startControlServer({ address: file, handlers: {} }), {
      code: 'KIT_ERR_SOCKET_PATH',
      message: /not a socket/,
    })
    t.equal(
      readFileSync(file, 'utf8'),
      'data',
      'a file at the path is never deleted',
    )

    // A stale socket (nothing listening) is replaced.
    const stale = join(dir, 'stale.sock')
    const holder = createNetServer()
    await new Promise<void>(r => holder.listen(stale, r))
    await t.rejects(startControlServer({ address: stale, handlers: {} }), {
      code: 'KIT_ERR_LISTEN',
      message: /another daemon/,
    })
    await new Promise<void>(r => holder.close(() => r()))
    // Node unlinks on close; a stale socket is what a killed process leaves:
    // bound, never unlinked, nobody listening.
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      stale,
    ])
    t.ok(lstatSync(stale).isSocket(), 'stale socket left behind')

    const old = process.umask(0o000)
    try {
      const srv = await startControlServer({
        address: stale,
        handlers: { ping: () => 'pong' },
      })
      t.teardown(() => srv.close())
      t.equal(process.umask(0o000), 0o000, 'the process umask is restored')
      t.equal(
        lstatSync(stale).mode & 0o777,
        0o660,
        'socket created 0660 even with umask 000',
      )
      t.equal(await controlRequest(stale, 'ping'), 'pong')
    } finally {
      process.umask(old)
    }
  },
)

t.test(
  'non-root default goes to a private directory, checked before use',
  async t => {
    t.equal(defaultControlPath('x', { uid: 0 }), '/run/has/x.sock')
    t.equal(
      defaultControlPath('x', {
        uid: 1000,
        env: { XDG_RUNTIME_DIR: '/run/user/1000' },
      }),
      '/run/user/1000/x.sock',
    )
    t.equal(
      defaultControlPath('x', { uid: 1000, env: {}, tmp: '/tmp' }),
      '/tmp/has-1000/x.sock',
    )

    const tmp = mkdtempSync(join(tmpdir(), 'kit-priv-'))
    t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
    const saved = process.env.TMPDIR
    process.env.TMPDIR = tmp
    t.teardown(() => {
      if (saved === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
    })
    const uid = process.getuid?.() ?? 0
    const priv = privateRuntimeDir(uid)
    t.equal(priv, `${tmp}/has-${uid}`)
    // Someone pre-created it world-writable: refused.
    mkdirSync(priv)
    chmodSync(priv, 0o777)
    await t.rejects(
      startControlServer({ address: `${priv}/d.sock`, handlers: {} }),
      {
        code: 'KIT_ERR_SOCKET_PATH',
        message: /mode 0700/,
      },
    )
    chmodSync(priv, 0o700)
    const srv = await startControlServer({
      address: `${priv}/d.sock`,
      handlers: { ping: () => 'pong' },
    })
    t.teardown(() => srv.close())
    t.equal(await controlRequest(`${priv}/d.sock`, 'ping'), 'pong')
    // Missing: created 0700.
    const fresh = join(tmp, 'new-dir')
    const s3 = await startControlServer({
      address: `${fresh}/d.sock`,
      handlers: {},
    })
    t.teardown(() => s3.close())
    t.equal(lstatSync(fresh).mode & 0o777, 0o700)
  },
)
