// Issue 19.9: the report epoch came from the wall clock, so a client
// restarted after the clock stepped back sent a smaller epoch and every
// traffic-manager dropped its reports as stale. The CLI now takes the
// epoch from daemon-kit senderEpoch() (state file under HAS_STATE_DIR).
import type { TrafficClientStatus } from '../../src/client.js'
import t from 'tap'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { spawnDaemon } from '@has/test-support'
import { writeProcfsFixture } from '../../src/procfs-fixture.js'
import { Receiver } from '../helpers/receiver.js'

const KEY = 'epoch-test-key-0123456789'

t.test(
  'a restart after a backwards clock step still gets a larger epoch',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'tc-ep-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    writeProcfsFixture(join(dir, 'proc'), {
      bogomips: 2000,
      cpus: 2,
      memTotalMB: 2048,
      memFreeMB: 1024,
      idleShare: 0.5,
    })
    writeFileSync(join(dir, 'tc.key'), `${KEY}\n`, { mode: 0o600 })
    const rx = await Receiver.open('127.0.0.1', KEY)
    t.teardown(() => rx.close())
    const conf = join(dir, 'tcd.conf')
    writeFileSync(
      conf,
      `master1 127.0.0.1\nport ${rx.port}\nupdates 100\nnode 127.0.0.21\nkeyfile tc.key\n`,
    )
    // The last run handed out an epoch a day ahead of this clock: as if the
    // clock was stepped back a day since.
    const state = join(dir, 'state')
    mkdirSync(join(state, 'traffic-client'), { recursive: true })
    const last = Date.now() + 86_400_000
    writeFileSync(join(state, 'traffic-client', 'epoch'), `${last}\n`)
    const ctl = join(dir, 'ctl.sock')
    const tc = spawnDaemon(
      'traffic-client',
      ['-c', conf, '--control', ctl, '--procfs', join(dir, 'proc')],
      {
        env: { ...process.env, HAS_STATE_DIR: state },
      },
    )
    t.teardown(() => tc.stop('SIGKILL'))
    await tc.waitLog(l => l.msg === 'started')
    const st = (await controlRequest(ctl, 'status')) as TrafficClientStatus
    t.equal(st.epoch, last + 1, 'last epoch + 1, not the clock')
    const r = await rx.next()
    t.equal(r.report.epoch, last + 1, 'and the reports carry it')
    t.equal(
      readFileSync(join(state, 'traffic-client', 'epoch'), 'utf8'),
      `${last + 1}\n`,
      'persisted for the next start',
    )
  },
)
