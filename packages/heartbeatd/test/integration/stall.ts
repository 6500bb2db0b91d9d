// Issue 15: a loaded master declared its live peer dead. One cause is the
// receiver's own stall: when this process does not run for a while (CPU
// starvation, a long GC, swap), the next loop turn runs the due deadline
// timer before it reads the heartbeats the kernel queued meanwhile, and a
// peer that never stopped beating is declared dead. The deadline must be
// judged after those datagrams are read. Real sockets on loopback; the
// peer beats from another process so it goes on during the stall.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { Writable } from 'node:stream'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { IssueList, createLogger } from '@has/daemon-kit'
import { createHeartbeatd } from '../../src/heartbeatd.js'
import { parseHaCf, type Config } from '../../src/config.js'
import { parseAuthkeys, type AuthKeys } from '../../src/authkeys.js'
import { spawnScript, type Proc, waitFor } from '@has/test-support'

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures')
const AUTHKEYS = 'auth 1\n1 sha1 stall-test-secret-0123\n'

/** A UDP port free right now (the heartbeat port is fixed by ha.cf). */
async function freePort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(r => s.bind(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise<void>(r => s.close(() => r()))
  return port
}

t.test('a stalled receiver reads queued heartbeats before judging', async t => {
  const port = await freePort()
  const dir = t.testdir({})
  const { config: cf, errors } = parseHaCf(
    [
      'keepalive 30ms',
      'deadtime 100ms',
      'deadtime_max 100ms', // no adaptation: only the stall guard is tested
      'initdead 5',
      `udpport ${port}`,
      'ucast lo 127.0.0.2',
      'node self peer',
      'realtime off',
      'event_listen 127.0.0.1:0',
      `state_dir ${dir}`,
      '',
    ].join('\n'),
    join(dir, 'ha.cf'),
  )
  t.same(errors, [])
  const config: Config = {
    ...(cf as NonNullable<typeof cf>),
    localNode: 'self',
    peerNode: 'peer',
    auth: parseAuthkeys(AUTHKEYS, 'authkeys', new IssueList()) as AuthKeys,
    groups: [],
    agents: {},
  }
  const lines: { msg?: string }[] = []
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as { msg?: string })
      done()
    },
  })
  const hb = await createHeartbeatd({
    config,
    logger: createLogger({ name: 'heartbeatd', destination }),
    nativeIpaddr: false,
    interfaces: {
      lo: [
        {
          address: '127.0.0.1',
          netmask: '255.0.0.0',
          family: 'IPv4',
          mac: '00:00:00:00:00:00',
          internal: true,
          cidr: '127.0.0.1/8',
        },
      ],
    },
  })
  let peer: Proc | undefined
  t.teardown(async () => {
    await peer?.stop('SIGKILL')
    await hb.close()
  })
  peer = spawnScript(
    join(FIX, 'beat.mjs'),
    ['127.0.0.2', '127.0.0.1', String(port), 'peer', '30', '2000'],
    { env: { ...process.env, AUTHKEYS } },
  )
  await peer.waitLog(l => l.msg === 'beating')
  const received = (): number => hb.status().paths[0]?.received ?? 0
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    await waitFor(ok, { what, timeoutMs: 5000 })
  }
  await until('the peer to be alive', () =>
    lines.some(l => l.msg === 'peer alive'),
  )
  // Stall 400 ms (4 x deadtime) in the check phase: the next loop turn
  // starts with the due deadline timer, the queued heartbeats unread.
  await new Promise<void>(r =>
    setImmediate(() => {
      const end = performance.now() + 400
      while (performance.now() < end);
      r()
    }),
  )
  const after = received()
  await until('heartbeats after the stall', () => received() >= after + 5)
  t.same(
    lines.filter(l => l.msg === 'peer dead'),
    [],
    'the peer, beating all along, was not declared dead',
  )
})
