// Each check type against real local servers: nginx for http, a node TLS
// server for https, a listener that never answers, the system ping, and
// scripts for external checks.

import t from 'tap'
import type { TLSSocket } from 'node:tls'
import { createServer, type Socket } from 'node:net'
import { createServer as createHttpsServer } from 'node:https'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import {
  checkConnect,
  checkExternal,
  checkHttp,
  checkOff,
  checkOn,
  checkPing,
  httpTarget,
} from '../src/checks.js'
import { freePort, makeNginx } from './helpers/nginx.js'
import { portOf } from '@has/test-support'

t.test('http negotiate against nginx', async t => {
  const ngx = await makeNginx(t.testdir({}), '127.0.0.9', '<p>Home Page</p>')
  t.teardown(() => ngx.stop())
  await ngx.start()
  const base = {
    service: 'http' as const,
    host: ngx.host,
    port: ngx.port,
    method: 'GET' as const,
    timeoutMs: 3000,
  }
  t.same(
    await checkHttp({ ...base, request: 'index.html', receive: 'Home Page' }),
    { ok: true, reason: 'ok' },
  )
  t.same(
    await checkHttp({ ...base, request: '/', receive: 'Home' }),
    { ok: true, reason: 'ok' },
    'index',
  )
  t.match(
    await checkHttp({ ...base, request: 'index.html', receive: 'Other Page' }),
    { ok: false, code: 'LD_ERR_CHECK_RECEIVE' },
  )
  t.match(await checkHttp({ ...base, request: 'missing.html' }), {
    ok: false,
    code: 'LD_ERR_CHECK_STATUS',
    reason: /404/,
  })
  t.match(await checkHttp({ ...base, request: 'health503' }), {
    ok: false,
    reason: /503 is not 2xx/,
  })
  t.match(
    await checkHttp({
      ...base,
      request: 'index.html',
      method: 'HEAD',
      receive: 'ignored for HEAD',
    }),
    { ok: true },
  )
  t.match(
    await checkHttp({
      ...base,
      request: 'host',
      virtualhost: 'www.example.com',
      receive: '^host=www\\.example\\.com$',
    }),
    { ok: true },
    'virtualhost is the Host header',
  )
  t.match(
    await checkHttp({
      ...base,
      request: 'http://shop.example/host',
      receive: 'host=shop\\.example',
    }),
    { ok: true },
    'Host from a full URL',
  )
  await ngx.stop()
  t.match(await checkHttp({ ...base, request: '/' }), {
    ok: false,
    code: 'LD_ERR_CHECK_CONNECT',
  })
})

t.test('httpTarget follows ldirectord request/virtualhost rules', async t => {
  t.same(httpTarget({ request: 'index.html', host: '10.0.0.1', port: 80 }), {
    path: '/index.html',
    hostHeader: '10.0.0.1:80',
  })
  t.same(
    httpTarget({ request: '/a', host: '::1', port: 8080, virtualhost: 'v' }),
    { path: '/a', hostHeader: 'v' },
  )
  t.same(httpTarget({ request: 'https://x.example', host: '::1', port: 443 }), {
    path: '/',
    hostHeader: 'x.example',
  })
  t.same(httpTarget({ request: 'x', host: '::1', port: 81 }), {
    path: '/x',
    hostHeader: '[::1]:81',
  })
})

t.test(
  'a server that accepts and never answers fails at the timeout',
  async t => {
    const held = new Set<Socket>()
    const mute = createServer(s => held.add(s))
    await new Promise<void>(r => mute.listen(0, '127.0.0.1', r))
    t.teardown(() => {
      for (const s of held) s.destroy()
      mute.close()
    })
    const port = portOf(mute)
    const r = await checkHttp({
      service: 'http',
      host: '127.0.0.1',
      port,
      request: '/',
      method: 'GET',
      timeoutMs: 300,
    })
    t.match(r, {
      ok: false,
      code: 'LD_ERR_CHECK_TIMEOUT',
      reason: 'no answer within 300 ms',
    })
    t.same(
      await checkConnect('127.0.0.1', port, 1000),
      { ok: true, reason: 'ok' },
      'connect only needs the accept',
    )
    const closed = await freePort()
    t.match(await checkConnect('127.0.0.1', closed, 1000), {
      ok: false,
      code: 'LD_ERR_CHECK_CONNECT',
    })
  },
)

t.test('https negotiate with a self-signed certificate', async t => {
  const dir = t.testdir({})
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      join(dir, 'c.pem'),
    ],
    { stdio: 'ignore' },
  )
  const srv = createHttpsServer(
    {
      key: readFileSync(join(dir, 'k.pem')),
      cert: readFileSync(join(dir, 'c.pem')),
    },
    (req, res) => {
      reused.push((req.socket as TLSSocket).isSessionReused())
      res.end(req.url === '/ok' ? 'secure Home Page' : 'nope')
    },
  )
  const reused: boolean[] = []
  await new Promise<void>(r => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => srv.close())
  const port = portOf(srv)
  const base = {
    service: 'https' as const,
    host: '127.0.0.1',
    port,
    method: 'GET' as const,
    timeoutMs: 3000,
  }
  t.match(await checkHttp({ ...base, request: 'ok', receive: 'Home Page' }), {
    ok: true,
  })
  t.match(
    await checkHttp({ ...base, request: 'other', receive: 'Home Page' }),
    { ok: false, code: 'LD_ERR_CHECK_RECEIVE' },
  )
  t.equal(
    reused.at(-1),
    true,
    'a repeated check resumes the TLS session (cheaper handshake)',
  )
})

t.test('ping through the system ping', async t => {
  t.same(await checkPing('127.0.0.1', 2000), { ok: true, reason: 'ok' })
  t.match(
    await checkPing('256.0.0.1', 2000),
    { ok: false, code: 'LD_ERR_CHECK_EXIT' },
    'bad address: ping fails',
  )
})

t.test(
  'external: exit 0 healthy, arguments vip vport rip rport, killed at timeout',
  async t => {
    const dir = t.testdir({})
    const script = join(dir, 'check.sh')
    writeFileSync(
      script,
      `#!/bin/sh\necho "$@" > ${dir}/args\n[ "$3" = 10.0.0.2 ]\n`,
    )
    chmodSync(script, 0o755)
    const args = { vip: '10.0.0.1', vport: 80, rip: '10.0.0.2', rport: 8080 }
    t.same(await checkExternal(script, args, 3000), { ok: true, reason: 'ok' })
    t.equal(
      readFileSync(join(dir, 'args'), 'utf8'),
      '10.0.0.1 80 10.0.0.2 8080\n',
    )
    t.match(await checkExternal(script, { ...args, rip: '10.0.0.3' }, 3000), {
      ok: false,
      code: 'LD_ERR_CHECK_EXIT',
      reason: /exited with 1/,
    })
    const sleeper = join(dir, 'hang.sh')
    writeFileSync(sleeper, '#!/bin/sh\nsleep 30\n')
    chmodSync(sleeper, 0o755)
    t.match(await checkExternal(sleeper, args, 200), {
      ok: false,
      code: 'LD_ERR_CHECK_TIMEOUT',
    })
    t.match(await checkExternal(join(dir, 'absent'), args, 1000), {
      ok: false,
      code: 'LD_ERR_CHECK_EXIT',
      reason: /cannot run/,
    })
  },
)

t.test('on and off', async t => {
  t.same(await checkOn(), { ok: true, reason: 'ok' })
  t.match(await checkOff(), { ok: false, code: 'LD_ERR_CHECK_OFF' })
})
