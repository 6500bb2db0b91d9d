// The real binary against real nginx servers on loopback. The peers are
// sockets this test binds (traffic-manager control and report port,
// traffic-client control) and records what ldirectord tells them.

import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { writeFileSync, mkdirSync, unlinkSync } from 'node:fs'
import { spawnDaemon, runBin, portOf } from '@has/test-support'
import { makeNginx, type Nginx } from '../helpers/nginx.js'
import { controlPeer, reportSink, socketDir } from '../helpers/peers.js'

const up = (ngx: Nginx) => t.teardown(() => ngx.stop())

t.test(
  'director mode: a stopped nginx gets weight 0 in time, then auto',
  async t => {
    const dir = t.testdir({})
    const sd = socketDir(t)
    const a = await makeNginx(join(dir, 'a'), '127.0.0.2', '<h1>Home Page</h1>')
    const b = await makeNginx(join(dir, 'b'), '127.0.0.3', '<h1>Home Page</h1>')
    up(a)
    up(b)
    await a.start()
    await b.start()
    const tm = await controlPeer(['weight', 'status'])
    t.teardown(() => tm.close())
    const checkinterval = 0.5
    const failurecount = 2
    const checktimeout = 2
    const cf = join(dir, 'ldirectord.cf')
    writeFileSync(
      cf,
      `checkinterval = ${checkinterval}
checktimeout = ${checktimeout}
failurecount = ${failurecount}
quiescent = yes
trafficmanagercontrol = ${tm.address}
virtual = 127.0.0.1:8080
    real = ${a.host}:${a.port} masq
    real = ${b.host}:${b.port} masq
    service = http
    request = "index.html"
    receive = "Home Page"
    scheduler = wrr
`,
    )
    const ctl = join(sd, 'ld.sock')
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      ctl,
      '--metrics',
      '127.0.0.1:0',
    ])
    t.teardown(() => ld.stop())
    const isW =
      (node: string, w: string) => (c: { cmd: string; args: string[] }) =>
        c.cmd === 'weight' &&
        c.args[0] === '127.0.0.1:8080' &&
        c.args[1] === node &&
        c.args[2] === w
    await tm.commands.wait(isW(a.host, 'auto'))
    await tm.commands.wait(isW(b.host, 'auto'))

    await a.stop()
    const stoppedAt = Date.now()
    const drained = await tm.commands.wait(isW(a.host, '0'))
    const bound = (checkinterval * failurecount + checktimeout) * 1000
    t.ok(
      drained.at - stoppedAt <= bound,
      `weight 0 after ${drained.at - stoppedAt} ms (bound ${bound} ms)`,
    )
    t.notOk(
      tm.commands.items.some(isW(b.host, '0')),
      'the healthy server keeps its weight',
    )
    const down = await ld.waitLog(l => l.msg === 'real server down')
    t.match(down, { real: `${a.host}:${a.port}`, code: 'LD_ERR_CHECK_CONNECT' })

    const st = await runBin('ldirectord', ['status', '--control', ctl])
    t.equal(st.code, 0)
    t.match(st.stdout, new RegExp(`${a.host}:${a.port}\\s+down`))
    t.match(st.stdout, new RegExp(`${b.host}:${b.port}\\s+up`))

    const n = tm.commands.items.length
    await a.start()
    await tm.commands.wait(
      c => tm.commands.items.indexOf(c) >= n && isW(a.host, 'auto')(c),
    )
    t.pass('recovered server set back to auto')

    const started = await ld.waitLog(l => l.msg === 'started')
    const port = (started.metrics as { port: number }).port
    const metrics = await (
      await fetch(`http://127.0.0.1:${port}/metrics`)
    ).text()
    t.match(metrics, /ld_check_duration_seconds_bucket\{.*check="http"/)
    t.match(
      metrics,
      /ld_checks_total\{virtual="127.0.0.1:8080",real="127.0.0.2:\d+",result="fail"\} [1-9]/,
    )
    t.equal(await ld.stop(), 0, 'graceful stop')
  },
)

t.test(
  'HAS mode: drain reports and traffic-client pause, then up and resume',
  async t => {
    const dir = t.testdir({})
    const sd = socketDir(t)
    const web = await makeNginx(join(dir, 'w'), '127.0.0.4', 'Home Page')
    up(web)
    await web.start()
    const key = 'test-shared-key-123'
    const sink = await reportSink(key)
    t.teardown(() => sink.close())
    const tc = await controlPeer(['pause', 'resume', 'drain', 'status'])
    t.teardown(() => tc.close())
    writeFileSync(join(dir, 'key'), `${key}\n`, { mode: 0o600 })
    const cf = join(dir, 'ldirectord.cf')
    writeFileSync(
      cf,
      `checkinterval = 0.3
checktimeout = 2
hasmode = yes
nodeaddress = 127.0.0.4
trafficmanager = 127.0.0.1:${sink.port}
trafficclientcontrol = ${tc.address}
reportkeyfile = ${join(dir, 'key')}
virtual = 127.0.0.4:80
    real = ${web.host}:${web.port} gate
    receive = "Home Page"
`,
    )
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      join(sd, 'ld.sock'),
    ])
    t.teardown(() => ld.stop())
    await ld.waitLog(l => l.msg === 'checking real servers')
    await web.stop()
    const drain = await sink.reports.wait(r => r.state === 'drain')
    t.match(drain, { node: '127.0.0.4', load: 0, sender: 'ld', verified: true })
    await tc.commands.wait(c => c.cmd === 'pause')
    const again = await sink.reports.wait(
      r => r.state === 'drain' && r.seq > drain.seq,
    )
    t.equal(again.epoch, drain.epoch, 'same epoch')
    t.ok(again.seq > drain.seq, 'drain re-sent with a higher seq while failed')

    await web.start()
    const back = await sink.reports.wait(r => r.state === 'up')
    t.match(back, { node: '127.0.0.4', load: 1, sender: 'ld', verified: true })
    await tc.commands.wait(c => c.cmd === 'resume')
    t.equal(await ld.stop(), 0)
  },
)

t.test(
  'a server that never answers fails at checktimeout; a wrong receive fails',
  async t => {
    const dir = t.testdir({})
    const sd = socketDir(t)
    const web = await makeNginx(join(dir, 'w'), '127.0.0.5', 'Home Page')
    up(web)
    await web.start()
    const held = new Set<Socket>()
    const mute = createServer(s => held.add(s)) // accepts, never answers
    await new Promise<void>(r => mute.listen(0, '127.0.0.6', r))
    t.teardown(() => {
      for (const s of held) s.destroy()
      mute.close()
    })
    const mutePort = portOf(mute)
    const maint = join(dir, 'maint')
    mkdirSync(maint)
    const tm = await controlPeer(['weight'])
    t.teardown(() => tm.close())
    const cf = join(dir, 'ldirectord.cf')
    writeFileSync(
      cf,
      `checkinterval = 0.5
checktimeout = 1
maintenancedir = ${maint}
trafficmanagercontrol = ${tm.address}
virtual = 127.0.0.1:81
    real = 127.0.0.6:${mutePort} gate
    service = http
virtual = 127.0.0.1:82
    real = ${web.host}:${web.port} gate
    service = http
    receive = "Not This Page"
virtual = 127.0.0.1:83
    real = 127.0.0.7:${web.port} gate
    checktype = on
`,
    )
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      join(sd, 'ld.sock'),
    ])
    t.teardown(() => ld.stop())
    const hung = await ld.waitLog(
      l => l.msg === 'real server down' && l.virtual === '127.0.0.1:81',
    )
    t.match(hung, { code: 'LD_ERR_CHECK_TIMEOUT', reason: /1000 ms/ })
    const wrong = await ld.waitLog(
      l => l.msg === 'real server down' && l.virtual === '127.0.0.1:82',
    )
    t.match(wrong, { code: 'LD_ERR_CHECK_RECEIVE' })
    await tm.commands.wait(
      c => c.args[0] === '127.0.0.1:83' && c.args[2] === 'auto',
    )
    // Taken out by hand: a file named after the real server.
    writeFileSync(join(maint, '127.0.0.7'), '')
    const m = await ld.waitLog(
      l => l.msg === 'real server down' && l.virtual === '127.0.0.1:83',
    )
    t.match(m, { code: 'LD_ERR_MAINTENANCE' })
    await tm.commands.wait(
      c => c.args[0] === '127.0.0.1:83' && c.args[2] === '0',
    )
    unlinkSync(join(maint, '127.0.0.7'))
    await ld.waitLog(
      l => l.msg === 'real server up' && l.virtual === '127.0.0.1:83',
    )
  },
)

t.test(
  '--check-config: the thesis sample passes, a broken file names file:line',
  async t => {
    const fixture = join(
      import.meta.dirname,
      '..',
      'fixtures',
      'thesis-3.19.1.cf',
    )
    const ok = await runBin('ldirectord', ['--check-config', '-c', fixture])
    t.equal(ok.code, 0, ok.stderr)
    t.match(ok.stdout, 'configuration OK')
    const dir = t.testdir({
      'bad.cf':
        'checktimeout = 3\nvirtual = 10.0.0.1:80\n    real = 10.0.0.2:80 masq\n    emailalert = root@localhost\n',
    })
    const bad = await runBin('ldirectord', [
      '--check-config',
      '-c',
      join(dir, 'bad.cf'),
    ])
    t.equal(bad.code, 3)
    t.match(
      bad.stderr,
      `${join(dir, 'bad.cf')}:4: directive "emailalert" is not supported`,
    )
  },
)

t.test(
  'autoreload and SIGHUP: an edit is applied, a bad edit is refused',
  async t => {
    const dir = t.testdir({})
    const sd = socketDir(t)
    const cf = join(dir, 'ldirectord.cf')
    const good =
      'autoreload = yes\ncheckinterval = 0.5\nvirtual = 127.0.0.1:85\n    real = 127.0.0.8:9 gate\n    checktype = on\n'
    writeFileSync(cf, good)
    const ld = spawnDaemon('ldirectord', [
      '-c',
      cf,
      '--control',
      join(sd, 'ld.sock'),
    ])
    t.teardown(() => ld.stop())
    await ld.waitLog(l => l.msg === 'real server up')
    // The kit's watcher is ready a moment after "started" and says nothing:
    // touch the file until a reload shows it is watching.
    for (let i = 0; ; i++) {
      writeFileSync(cf, `${good}# touch ${i}\n`)
      const seen = await ld
        .waitLog(l => l.msg === 'configuration reloaded', 1000)
        .catch(() => undefined)
      if (seen) break
      if (i === 20) throw new Error('autoreload never fired')
    }
    const reloads = () =>
      ld.logs.filter(l => l.msg === 'configuration reloaded').length
    const before = reloads()
    writeFileSync(cf, `${good}    real = 127.0.0.9:9 gate\n`)
    await ld.waitLog(
      l => l.msg === 'configuration reloaded' && reloads() > before,
    )
    await ld.waitLog(
      l => l.msg === 'real server up' && l.real === '127.0.0.9:9',
    )
    writeFileSync(cf, `${good}    real = 127.0.0.9:9 tunnel\n`)
    const rej = await ld.waitLog(
      l => l.msg === 'reload rejected; keeping the last good configuration',
    )
    t.match(rej, { issues: [{ line: 6, value: 'tunnel' }] })
    const rejections = () =>
      ld.logs.filter(
        l => l.msg === 'reload rejected; keeping the last good configuration',
      ).length
    const n = rejections()
    ld.child.kill('SIGHUP')
    await ld.waitLog(
      l =>
        l.msg === 'reload rejected; keeping the last good configuration' &&
        rejections() > n,
    )
    const st = await runBin('ldirectord', [
      'status',
      '--json',
      '--control',
      join(sd, 'ld.sock'),
    ])
    t.equal(
      JSON.parse(st.stdout).virtuals[0].reals.length,
      2,
      'still the last good config',
    )
  },
)
