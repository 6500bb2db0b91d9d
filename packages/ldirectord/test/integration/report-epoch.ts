// Issue 19.9: HAS-mode load reports carry a sender epoch that never goes
// backwards across restarts, even when the clock stepped back. The real
// binary, a real UDP report sink on loopback and a real server that
// refuses connections (a port bound, then closed), so every start drains.

import t from 'tap'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { readFileSync, writeFileSync } from 'node:fs'
import { spawnDaemon, portOf } from '@has/test-support'
import { reportSink, socketDir } from '../helpers/peers.js'

/** A loopback port nothing listens on (bound by the kernel, then released). */
async function closedPort(host: string): Promise<number> {
  const s = createServer()
  await new Promise<void>(r => s.listen(0, host, r))
  const port = portOf(s)
  await new Promise<void>(r => s.close(() => r()))
  return port
}

t.test(
  'report epoch: persisted, larger than the last start even after the clock stepped back',
  async t => {
    const dir = t.testdir({ state: { ldirectord: {} } })
    const sd = socketDir(t)
    const key = 'test-shared-key-123'
    const sink = await reportSink(key)
    t.teardown(() => sink.close())
    writeFileSync(join(dir, 'key'), `${key}\n`, { mode: 0o600 })
    const port = await closedPort('127.0.0.6')
    const cf = join(dir, 'ldirectord.cf')
    writeFileSync(
      cf,
      `checkinterval = 0.3
checktimeout = 1
hasmode = yes
nodeaddress = 127.0.0.6
trafficmanager = 127.0.0.1:${sink.port}
reportkeyfile = ${join(dir, 'key')}
virtual = 127.0.0.6:80
    real = 127.0.0.6:${port} gate
    checktype = connect
`,
    )
    // A previous start handed out an epoch a day ahead of the clock: as
    // after the clock was stepped back by a day.
    const stateFile = join(dir, 'state', 'ldirectord', 'epoch')
    const ahead = Date.now() + 86_400_000
    writeFileSync(stateFile, `${ahead}\n`)
    const env = { ...process.env, HAS_STATE_DIR: join(dir, 'state') }

    const run = async (after: number) => {
      const ld = spawnDaemon(
        'ldirectord',
        ['-c', cf, '--control', join(sd, 'ld.sock')],
        { env },
      )
      t.teardown(() => ld.stop())
      const r = await sink.reports.wait(
        x => x.state === 'drain' && x.at >= after,
      )
      t.equal(await ld.stop(), 0, 'graceful stop')
      return r
    }
    const first = await run(0)
    t.match(first, { node: '127.0.0.6', sender: 'ld', verified: true })
    t.equal(
      first.epoch,
      ahead + 1,
      'epoch = the last one handed out + 1, not the (earlier) clock',
    )
    t.equal(
      readFileSync(stateFile, 'utf8').trim(),
      String(ahead + 1),
      'state file holds the new epoch',
    )
    const second = await run(Date.now())
    t.equal(second.epoch, ahead + 2, 'a restart gets a larger epoch again')
  },
)
