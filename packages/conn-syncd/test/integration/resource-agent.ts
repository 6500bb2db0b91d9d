// resource.d/conn-syncd-ready, heartbeatd's calling convention, against
// the real daemon on loopback: start returns once conn-syncd is ready, and
// within its bound (succeeding anyway, with a warning) when it is not or
// when no daemon answers; status follows start/stop.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createSocket } from 'node:dgram'
import { run, spawnDaemon, type Proc } from '@has/test-support'
import { encodeMessage, MSG_DATA } from '../../src/protocol.js'

const agent = fileURLToPath(
  new URL('../../resource.d/conn-syncd-ready', import.meta.url),
)
const KEY = 'agent-test-secret-1'

t.test(
  'conn-syncd-ready: start waits for readiness, bounded; status follows start/stop',
  async t => {
    const dir = mkdtempSync(`${tmpdir()}/cs-agent-`)
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    })
    const env = { ...process.env, HA_RSCTMP: `${dir}/rsc` }
    const op = (...args: string[]) => run(agent, args, { env })

    // No daemon at that control path: start still succeeds, saying why, within its bound.
    const none = await op('300', `${dir}/none.sock`, 'start')
    t.equal(none.code, 0, 'a takeover is never refused')
    t.match(none.stderr, /not ready within 300 ms/)
    t.equal((await op('300', `${dir}/none.sock`, 'status')).code, 0, 'started')
    t.equal((await op('stop')).code, 0)
    t.equal((await op('status')).code, 3, 'stopped')
    t.equal((await op('x1', 'start')).code, 1, 'a bad timeout is a usage error')

    // A daemon whose only peer (a socket of ours) has been heard from but
    // never sent its full table: not ready, so start returns after its bound.
    const peer = createSocket('udp4')
    t.teardown(() => peer.close())
    await new Promise<void>(r => peer.bind(0, '127.0.0.1', () => r()))
    const peerPort = peer.address().port
    writeFileSync(
      `${dir}/cs.conf`,
      `node m1\nlisten 127.0.0.1:0\npeer 127.0.0.1:${peerPort}\nauth-key ${KEY}\nservice 10.0.0.100:80 tcp\n`,
    )
    const sock = `${dir}/cs.sock`
    const d = spawnDaemon('conn-syncd', [
      '--config',
      `${dir}/cs.conf`,
      '--control',
      sock,
      '--log-level',
      'debug',
    ])
    procs.push(d)
    await d.waitLog(l => l.msg === 'started', 30_000)
    const running = d.logs.find(l => l.msg === 'conn-syncd running')
    const port = Number(String(running?.listen ?? '').split(':')[1])
    const hello = encodeMessage(
      {
        type: MSG_DATA,
        flags: 0,
        epoch: 1n,
        seq: 1,
        sender: 'm2',
        records: [],
      },
      'sha256',
      KEY,
    )
    await new Promise<void>(r => peer.send(hello, port, '127.0.0.1', () => r()))
    const waiting = await op('400', sock, 'start')
    t.equal(waiting.code, 0)
    t.match(
      waiting.stderr,
      /not ready within 400 ms/,
      'start returned at its bound',
    )
    t.match(
      waiting.stderr,
      /"waitingFor":\["127\.0\.0\.1"\]/,
      'and says what it waited for',
    )

    // The peer's (empty) full table arrives: start returns ready at once.
    const table = encodeMessage(
      {
        type: MSG_DATA,
        flags: 3,
        epoch: 1n,
        seq: 2,
        sender: 'm2',
        records: [],
      },
      'sha256',
      KEY,
    )
    await new Promise<void>(r => peer.send(table, port, '127.0.0.1', () => r()))
    const ready = await op('20000', sock, 'start')
    t.equal(ready.code, 0)
    t.match(
      ready.stdout,
      /ready \{"ready":true/,
      'ready (perl asks the socket)',
    )
    t.equal((await op('status')).code, 0)
    // The same through the CLI ($CONN_SYNCD), the path without perl.
    writeFileSync(
      `${dir}/cli`,
      `#!/bin/sh\nexec ${process.execPath} ${fileURLToPath(new URL('../../dist/bin.js', import.meta.url))} "$@"\n`,
      { mode: 0o755 },
    )
    const viaCli = await run(agent, ['20000', sock, 'start'], {
      env: { ...env, CONN_SYNCD: `${dir}/cli` },
    })
    t.equal(viaCli.code, 0)
    t.match(
      viaCli.stdout,
      /ready \{"ready":true/,
      'ready (conn-syncd wait-ready)',
    )
  },
)
