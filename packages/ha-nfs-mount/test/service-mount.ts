// The mount side of the library in-process, without root: the mount
// commands are replaced (a fake MountOps and Mounter that only record),
// the NFS servers are two small RPC NULL responders on 127.0.0.1 and
// 127.0.0.2 (same port, as two NFS servers would be). Covers failover,
// metrics, status, reload (timings apply, topology refused) and the
// back-off of a replica whose export will not mount.

import t from 'tap'
import { ManualClock, waitFor, portOf } from '@has/test-support'
import { createServer, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger, configOrThrow } from '@has/daemon-kit'
import { createHaNfsMount, parseConfig } from '../src/index.js'
import type { Mounter } from '../src/mounter.js'
import { FakeOps } from './helpers/fake-ops.js'
import { RecordReader } from '../src/rpc.js'

class FakeMounter implements Mounter {
  readonly kind = 'bind' as const
  readonly calls: string[] = []
  failing = new Set<string>()
  async preflight(): Promise<void> {}
  async mountReplica(server: string): Promise<void> {
    this.calls.push(server)
    if (this.failing.has(server))
      throw new Error(`mount ${server}: access denied by server`)
  }
}

/** Answers every RPC call with MSG_ACCEPTED SUCCESS; counts connections. */
interface Responder {
  readonly server: Server
  connections: number
  readonly sockets: Set<Socket>
}

function responder(): Responder {
  const r: Responder = {
    server: createServer(),
    connections: 0,
    sockets: new Set(),
  }
  r.server.on('connection', sock => {
    r.connections++
    r.sockets.add(sock)
    sock.on('close', () => r.sockets.delete(sock))
    sock.on('error', () => undefined)
    const reader = new RecordReader()
    sock.on('data', c => {
      for (const rec of reader.push(c)) {
        const body = Buffer.alloc(24) // xid, REPLY, MSG_ACCEPTED, AUTH_NONE, 0, SUCCESS
        body.writeUInt32BE(rec.readUInt32BE(0), 0)
        body.writeUInt32BE(1, 4)
        const mark = Buffer.alloc(4)
        mark.writeUInt32BE((0x80000000 | body.length) >>> 0)
        sock.write(Buffer.concat([mark, body]))
      }
    })
  })
  return r
}

async function listen(
  r: Responder,
  host: string,
  port: number,
): Promise<number> {
  r.server.listen(port, host)
  const [err] = await Promise.race([
    once(r.server, 'listening').then(() => [null]),
    once(r.server, 'error'),
  ])
  if (err) throw err
  return portOf(r.server)
}

/** Two responders on one port, 127.0.0.2 first (bounded retries on EADDRINUSE). */
async function twoServers(t: {
  teardown: (fn: () => void) => void
}): Promise<{ a: Responder; b: Responder; port: number }> {
  for (let i = 0; ; i++) {
    const a = responder()
    const b = responder()
    const port = await listen(b, '127.0.0.2', 0)
    try {
      await listen(a, '127.0.0.1', port)
      t.teardown(() => {
        for (const r of [a, b]) {
          for (const s of r.sockets) s.destroy()
          r.server.close()
        }
      })
      return { a, b, port }
    } catch (e) {
      b.server.close()
      if (i >= 20 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e
    }
  }
}

/** Waits on the service's own state, bounded (test-support waitFor). */
async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
): Promise<void> {
  await waitFor(cond, { what, timeoutMs: 20_000, intervalMs: 10 })
}

/** The value of one sample of a metric, labels matched in any order. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const got = Object.fromEntries(
      [...(m[2] as string).matchAll(/(\w+)="([^"]*)"/g)].map(x => [x[1], x[2]]),
    )
    if (Object.entries(labels).every(([k, v]) => got[k] === v))
      return Number(m[3])
  }
  return undefined
}

const configText = (dir: string, port: number, extra: string[] = []): string =>
  [
    'interval 100ms',
    'probe-timeout 100ms', // generous: a loaded box must not fail over on its own
    'failures 3',
    'failback-hold never',
    'stat-interval 50ms',
    'mount-timeout 5s',
    `staging-dir ${join(dir, 'staging')}`,
    ...extra,
    `127.0.0.1,127.0.0.2:/export ${join(dir, 'mnt')} soft,port=${port}`,
  ].join('\n') + '\n'

t.test('failover, metrics, status and reload of a mount', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hnm-svc-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { a, port } = await twoServers(t)
  const ops = new FakeOps(5000)
  const mounter = new FakeMounter()
  const svc = await createHaNfsMount({
    config: configOrThrow(parseConfig(configText(dir, port), 'hnm.conf')),
    ops,
    mounter,
  })
  let closed = false
  t.teardown(() => (closed ? undefined : svc.close()))
  const mnt = join(dir, 'mnt')
  const staging = (server: string): string =>
    join(dir, 'staging', mnt.slice(1).replace(/[^A-Za-z0-9._-]/g, '_'), server)

  await until(
    'server1 presented',
    () => svc.status().mounts[0]?.active === '127.0.0.1',
  )
  t.same(
    ops.binds[0],
    [staging('127.0.0.1'), mnt],
    'server1 staging bound onto the mount point',
  )
  t.same(
    mounter.calls.sort(),
    ['127.0.0.1', '127.0.0.2'],
    'both replicas mounted once',
  )
  await until(
    'server2 healthy',
    () => svc.status().mounts[0]?.servers[1]?.healthy === true,
  )
  let text = (await svc.registry?.metrics()) ?? ''
  t.equal(sample(text, 'hnm_active_server', { server: '127.0.0.1' }), 1)
  t.equal(sample(text, 'hnm_active_server', { server: '127.0.0.2' }), 0)
  t.equal(sample(text, 'hnm_server_healthy', { server: '127.0.0.2' }), 1)
  t.equal(sample(text, 'hnm_no_healthy_server', { mount: mnt }), 0)

  // Reload: timings apply (mount-timeout reaches the mount commands) ...
  await svc.reload(
    configOrThrow(
      parseConfig(configText(dir, port, ['mount-timeout 3s']), 'hnm.conf'),
    ),
  )
  t.equal(ops.timeoutMs, 3000, 'mount-timeout reloaded')
  // ... what needs a restart is refused and changes nothing.
  for (const [what, text] of [
    ['rpc port', configText(dir, port + 1)],
    ['failures', configText(dir, port, ['failures 4'])],
    [
      'staging-dir',
      configText(dir, port, [
        'mount-timeout 1s',
        `staging-dir ${join(dir, 'other')}`,
      ]),
    ],
  ] as const) {
    t.throws(
      () => svc.reload(configOrThrow(parseConfig(text, 'hnm.conf'))),
      { code: 'HNM_ERR_RELOAD_RESTART' },
      what,
    )
  }
  t.equal(ops.timeoutMs, 3000, 'a refused reload keeps the last good timings')

  // Server1's NFS service dies: connections are refused from now on.
  for (const s of a.sockets) s.destroy()
  await new Promise(r => a.server.close(r))
  await until(
    'failover to server2',
    () => svc.status().mounts[0]?.active === '127.0.0.2',
  )
  t.same(ops.binds.at(-1), [staging('127.0.0.2'), mnt], 'server2 pushed on top')
  const st = svc.status().mounts[0]
  t.match(st, {
    active: '127.0.0.2',
    layers: ['127.0.0.1', '127.0.0.2'],
    failovers: 1,
  })
  t.match(st?.lastFailover, {
    from: '127.0.0.1',
    to: '127.0.0.2',
    reason: '127.0.0.1 failed',
  })
  t.match(st?.servers[0], { healthy: false, lastError: /ECONNREFUSED/ })
  text = (await svc.registry?.metrics()) ?? ''
  t.equal(
    sample(text, 'hnm_failovers_total', { from: '127.0.0.1', to: '127.0.0.2' }),
    1,
  )
  t.equal(sample(text, 'hnm_active_server', { server: '127.0.0.2' }), 1)
  t.equal(sample(text, 'hnm_server_healthy', { server: '127.0.0.1' }), 0)
  t.ok(
    (sample(text, 'hnm_probe_failures_total', {
      server: '127.0.0.1',
      probe: 'rpc',
    }) ?? 0) >= 3,
    'rpc failures counted',
  )
  t.type(sample(text, 'hnm_last_swap_seconds', { mount: mnt }), 'number')

  closed = true
  await svc.close()
  t.ok(
    ops.detached.filter(p => p === mnt).length >= 2,
    'both layers removed on close',
  )
  t.ok(
    ops.detached.includes(staging('127.0.0.1')) &&
      ops.detached.includes(staging('127.0.0.2')),
    'staging mounts removed',
  )
})

t.test(
  'an export that will not mount is retried with back-off, not every round',
  async t => {
    const dir = await mkdtemp(join(tmpdir(), 'hnm-svc-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const { a, port } = await twoServers(t)
    const ops = new FakeOps(5000)
    const mounter = new FakeMounter()
    mounter.failing.add('127.0.0.1')
    // A clock that only moves when the test says so: the back-off is decided
    // by it, so the check does not depend on how fast this machine is.
    const clock = new ManualClock(0)
    const lines: Record<string, unknown>[] = []
    const logger = createLogger({
      name: 'test',
      level: 'debug',
      destination: {
        write: (s: string) =>
          void lines.push(JSON.parse(s) as Record<string, unknown>),
      },
    })
    const svc = await createHaNfsMount({
      config: configOrThrow(parseConfig(configText(dir, port), 'hnm.conf')),
      ops,
      mounter,
      logger,
      clock,
    })
    t.teardown(() => svc.close())
    const server1Mounts = (): number =>
      mounter.calls.filter(s => s === '127.0.0.1').length

    await until(
      'server2 presented',
      () => svc.status().mounts[0]?.active === '127.0.0.2',
    )
    const seen = a.connections
    await until('ten more probe rounds', () => a.connections >= seen + 10)
    t.equal(
      server1Mounts(),
      1,
      'no retry before the back-off ends, however many rounds',
    )
    t.match(svc.status().mounts[0]?.servers[0], {
      healthy: false,
      staged: false,
      lastError: /not mounted: .*access denied/,
    })

    clock.set(1000)
    await until('second attempt', () => server1Mounts() === 2)
    const seen2 = a.connections
    await until('ten more probe rounds', () => a.connections >= seen2 + 10)
    t.equal(server1Mounts(), 2, 'the next back-off is longer (2 s)')
    const failed = lines.filter(l => l.event === 'mount-failed')
    t.equal(failed.length, 2)
    t.match(
      failed.map(l => l.level),
      [40, 20],
      'the same error again is logged at debug, not warn',
    )
    t.match(
      failed.map(l => l.retryInMs),
      [1000, 2000],
    )

    mounter.failing.clear()
    clock.set(3000)
    await until(
      'server1 mounted and healthy',
      () => svc.status().mounts[0]?.servers[0]?.healthy === true,
    )
    t.equal(
      svc.status().mounts[0]?.active,
      '127.0.0.2',
      'failback-hold never: stays on server2',
    )
  },
)
