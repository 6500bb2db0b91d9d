// The agent-check responder against the real HAProxy (Debian's): weight
// and administrative state in `show servers state` follow the client's flag.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnDaemon, run, track, portOf } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import { writeProcfsFixture } from '../../src/procfs-fixture.js'
import { Receiver } from '../helpers/receiver.js'

function haproxyCli(sock: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sock)
    let out = ''
    s.on('data', d => (out += d.toString()))
    s.on('end', () => resolve(out))
    s.on('error', reject)
    s.end(`${cmd}\n`)
  })
}

interface ServerState {
  opState: number
  adminState: number
  uweight: number
}

async function serverState(sock: string): Promise<ServerState | undefined> {
  const out = await haproxyCli(sock, 'show servers state b').catch(() => '')
  // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight ...
  const line = out.split('\n').find(l => / b \d+ s1 /.test(l))
  if (!line) return undefined
  const f = line.split(' ')
  return {
    opState: Number(f[5]),
    adminState: Number(f[6]),
    uweight: Number(f[7]),
  }
}

async function waitState(
  sock: string,
  pred: (s: ServerState) => boolean,
  what: string,
): Promise<ServerState> {
  let last: ServerState | undefined
  for (let i = 0; i < 300; i++) {
    last = await serverState(sock)
    if (last && pred(last)) return last
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(`haproxy never showed ${what}; last ${JSON.stringify(last)}`)
}

const SRV_ADMF_DRAIN = 0x08
const SRV_ST_STOPPED = 0
const SRV_ST_RUNNING = 2

t.test('haproxy agent-check follows the flag', async t => {
  const which = await run('sh', ['-c', 'command -v haproxy'])
  if (which.code !== 0) {
    // CI installs Debian's haproxy; a missing one is a broken set-up, not a skip.
    t.fail('haproxy is not installed (apt-get install haproxy)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'tch-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  // The real server behind HAProxy, so its own `check` passes.
  const web = createServer(s => s.end())
  web.listen(0, '127.0.0.1')
  await once(web, 'listening')
  t.teardown(() => web.close())
  const webPort = portOf(web)

  writeProcfsFixture(join(dir, 'proc'), {
    bogomips: 1000,
    cpus: 1,
    memTotalMB: 1024,
    memFreeMB: 1024,
    idleShare: 0.5,
  })
  const rx = await Receiver.open('127.0.0.1')
  t.teardown(() => rx.close())
  writeFileSync(
    join(dir, 'tcd.conf'),
    `master1 127.0.0.1:${rx.port}\nnode 127.0.0.1\nupdates 100\nprocfs proc\nagent_port 0\nagent_addr 127.0.0.1\n`,
  )
  const ctl = join(dir, 'ctl.sock')
  const tc = spawnDaemon('traffic-client', [
    '-c',
    join(dir, 'tcd.conf'),
    '--control',
    ctl,
  ])
  t.teardown(() => tc.stop('SIGKILL'))
  const up = await tc.waitLog(l => l.msg === 'agent-check responder listening')
  const agentPort = Number(String(up.agent).split(':').pop())

  const sock = join(dir, 'h.sock')
  writeFileSync(
    join(dir, 'haproxy.cfg'),
    [
      'global',
      `  stats socket ${sock} mode 600 level admin`,
      'defaults',
      '  mode tcp',
      '  timeout connect 1s',
      '  timeout client 5s',
      '  timeout server 5s',
      '  timeout check 1s',
      'backend b',
      `  server s1 127.0.0.1:${webPort} weight 200 check inter 100 agent-check agent-port ${agentPort} agent-inter 100`,
      '',
    ].join('\n'),
  )
  const hp = track(
    spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
  t.teardown(() => hp.stop('SIGKILL'))

  // idleShare 0.5 -> "50% ready up" -> weight 100 of 200.
  let s = await waitState(
    sock,
    x => x.uweight === 100 && x.opState === SRV_ST_RUNNING,
    'weight 100, running',
  )
  t.equal(s.adminState & SRV_ADMF_DRAIN, 0, 'ready')

  await controlRequest(ctl, 'drain')
  s = await waitState(sock, x => (x.adminState & SRV_ADMF_DRAIN) !== 0, 'drain')
  t.equal(s.uweight, 0, 'drain: weight 0')

  await controlRequest(ctl, 'pause')
  s = await waitState(sock, x => x.opState === SRV_ST_STOPPED, 'down')
  t.pass('paused: HAProxy marks the server DOWN')
  t.match(await haproxyCli(sock, 'show stat'), /^b,s1,.*DOWN \(agent\)/m)

  await controlRequest(ctl, 'resume')
  s = await waitState(
    sock,
    x =>
      x.opState === SRV_ST_RUNNING && x.adminState === 0 && x.uweight === 100,
    'running again',
  )
  t.pass('resume: up, ready, weight back to 100')

  // A busier node: HAProxy's weight follows the load.
  writeProcfsFixture(join(dir, 'proc'), {
    bogomips: 1000,
    cpus: 1,
    memTotalMB: 1024,
    memFreeMB: 1024,
    idleShare: 0.25,
  })
  await waitState(sock, x => x.uweight === 50, 'weight 50')
  t.pass('idle 25 % -> weight 50 of 200')

  t.equal(await tc.stop('SIGTERM'), 0)
  hp.child.kill('SIGTERM')
  await hp.exited
})
