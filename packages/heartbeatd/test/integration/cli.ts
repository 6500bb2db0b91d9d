// The binary on loopback, no root needed: config checks, status, the event
// protocol, reload keeping the last good config, standby refused alone.
import t from 'tap'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { spawnDaemon } from '@has/test-support'
import { main } from '../../src/cli.js'

/** Runs the CLI in-process (no node start-up per call). */
async function cli(args: string[]) {
  let stdout = ''
  let stderr = ''
  const code = await main(['node', 'heartbeatd', ...args], {
    out: s => void (stdout += s),
    err: s => void (stderr += s),
  })
  return { code, stdout, stderr }
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>(r => s.bind(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise<void>(r => s.close(() => r()))
  return port
}

function setup(port: number) {
  const dir = mkdtempSync(join(tmpdir(), 'hbc-'))
  const haCf = (extra = '') =>
    `keepalive 100ms\ndeadtime 500ms\ninitdead 500ms\nudpport ${port}\nucast lo 127.0.0.2\nnode alpha beta\nevent_listen 127.0.0.1:0\nstate_dir ${dir}/state\nresource_dir ${dir}/rd\n${extra}`
  writeFileSync(join(dir, 'ha.cf'), haCf())
  writeFileSync(join(dir, 'authkeys'), 'auth 1\n1 sha1 loopback-secret-0123\n')
  chmodSync(join(dir, 'authkeys'), 0o600)
  writeFileSync(join(dir, 'haresources'), 'alpha dummy::x\n')
  const rd = join(dir, 'rd')
  mkdirSync(rd, { recursive: true })
  writeFileSync(join(rd, 'dummy'), `#!/bin/sh\necho "$@" >> ${dir}/ops\n`)
  chmodSync(join(rd, 'dummy'), 0o755)
  return { dir, cf: join(dir, 'ha.cf'), sock: join(dir, 'ctl.sock'), haCf }
}

t.test('--check-config and --version', async t => {
  const { cf, dir } = setup(await freeUdpPort())
  const ok = await cli(['--check-config', '--config', cf, '--node', 'alpha'])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /configuration OK/)
  writeFileSync(cf, 'keepalive fast\nbcast eth0\nnode alpha beta\n')
  const bad = await cli(['--check-config', '--config', cf, '--node', 'alpha'])
  t.equal(bad.code, 3)
  t.match(
    bad.stderr,
    new RegExp(`${dir}/ha.cf:1: keepalive must be a time.*"fast"`),
  )
  const v = await cli(['--version'])
  t.match(v.stdout, /^\d+\.\d+\.\d+/)
  const u = await cli(['--bogus'])
  t.equal(u.code, 2)
})

t.test(
  'alone on loopback: takes its group, serves events and status',
  async t => {
    const { cf, sock, dir, haCf } = setup(await freeUdpPort())
    const d = spawnDaemon('heartbeatd', [
      '--config',
      cf,
      '--node',
      'alpha',
      '--control',
      sock,
      '--metrics',
      '127.0.0.1:0',
    ])
    t.teardown(() => d.stop('SIGKILL'))
    const running = await d.waitLog(l => l.msg === 'heartbeat running')
    const port = (running.events as { port: number }).port
    await d.waitLog(l => l.msg === 'active node' && l.active === 'alpha')

    const s = connect(port, '127.0.0.1')
    let text = ''
    s.on('data', c => (text += c))
    await new Promise(r => s.once('connect', r))
    s.write('PING\nWHAT\n')
    while (!text.includes('ERR ')) await new Promise(r => s.once('data', r))
    s.destroy()
    t.same(text.trim().split('\n'), [
      'HELLO 1 alpha',
      'NODE alpha alive',
      'NODE beta dead',
      'RESOURCE alpha alpha',
      'ACTIVE alpha',
      'SYNC',
      'PONG',
      'ERR HB_ERR_EVENT_UNKNOWN unknown command "WHAT"',
    ])

    const mline = await d.waitLog(l => l.msg === 'metrics listener up')
    const metrics = await (
      await fetch(`http://${mline.listen as string}/metrics`)
    ).text()
    t.match(metrics, /hb_peer_alive\{node="beta"\} 0/)
    t.match(metrics, /hb_group_held\{group="alpha"\} 1/)
    t.match(metrics, /hb_packets_dropped_total\{reason="forged"\} 0/)

    const st = await cli(['status', '--control', sock])
    t.equal(st.code, 0)
    t.match(st.stdout, /node alpha: active; peer beta: dead/)
    t.match(st.stdout, /ucast lo\s+down\s+never/)
    const sb = await cli(['standby', '--control', sock])
    t.equal(sb.code, 1)
    t.match(sb.stderr, /HB_ERR_PEER_DEAD/)

    // A bad reload keeps the running config; a restart-only change is refused.
    writeFileSync(cf, 'keepalive nope\n')
    d.child.kill('SIGHUP')
    await d.waitLog(
      l => l.msg === 'reload rejected; keeping the last good configuration',
    )
    writeFileSync(cf, haCf('ping 127.0.0.1\n'))
    d.child.kill('SIGHUP')
    await d.waitLog(
      l =>
        l.msg === 'reload rejected; keeping the last good configuration' &&
        JSON.stringify(l).includes('restart'),
    )
    writeFileSync(cf, haCf('auto_failback on\n'))
    d.child.kill('SIGHUP')
    await d.waitLog(l => l.msg === 'configuration reloaded')

    t.equal(await d.stop('SIGTERM'), 0)
    t.same(
      readFileSync(join(dir, 'ops'), 'utf8').trim().split('\n'),
      ['x stop', 'x start', 'x stop'],
      'cleanup stop, start, stop on exit',
    )
  },
)

// Issue 19 item 9: `gen` came from the wall clock, so a heartbeatd
// restarted after the clock stepped back was `stale` to its peer until the
// peer restarted. It now comes from daemon-kit senderEpoch (persisted).
t.test(
  'the generation never goes back: a persisted epoch wins over the clock',
  async t => {
    const { cf, sock, dir } = setup(await freeUdpPort())
    const state = join(dir, 'has-state')
    mkdirSync(join(state, 'heartbeatd'), { recursive: true })
    // The last run handed out a generation a day ahead of the clock now.
    const last = Date.now() + 86_400_000
    writeFileSync(join(state, 'heartbeatd', 'epoch'), `${last}\n`)
    const d = spawnDaemon(
      'heartbeatd',
      ['--config', cf, '--node', 'alpha', '--control', sock],
      { env: { ...process.env, HAS_STATE_DIR: state } },
    )
    t.teardown(() => d.stop('SIGKILL'))
    // Generous: node start-up alone takes seconds on a machine at load 40.
    await d.waitLog(l => l.msg === 'heartbeat running', 60_000)
    const st = await cli(['status', '--json', '--control', sock])
    const gen = (JSON.parse(st.stdout) as { generation: number }).generation
    t.equal(gen, last + 1, 'last generation + 1, not the clock')
    t.equal(
      readFileSync(join(state, 'heartbeatd', 'epoch'), 'utf8').trim(),
      String(last + 1),
      'persisted before use',
    )
    t.equal(await d.stop('SIGTERM'), 0)
  },
)
