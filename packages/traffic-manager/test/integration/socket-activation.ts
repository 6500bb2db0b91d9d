// Chaos finding A (b): with socket activation the VIP's listening socket
// outlives traffic-manager, so a connection made while it restarts waits in
// the kernel's queue and is served by the next instance instead of being
// refused. The service manager is played by sd-socket-holder.py (the seam:
// sd_listen_fds(3); there is no systemd here). Real binary, proxy worker,
// backends and reports on loopback.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { controlRequest } from '@has/daemon-kit'
import { binPath, track, type Proc } from '@has/test-support'
import { startBackend, Reporter, get, type Backend } from './helpers/lab.js'
import type { StatusSnapshot } from '../../src/traffic-manager.js'

const HOLDER = fileURLToPath(
  new URL('../fixtures/sd-socket-holder.py', import.meta.url),
)
const KEY = 'socket-activation-test-key-01'
const NODES = ['127.0.0.11', '127.0.0.12']

t.test(
  'a restart with an inherited socket answers connections made during the gap; a reload never closes it',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-sa-'))
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs.reverse()) await p.stop('SIGKILL')
    })
    const backends: Backend[] = []
    for (const a of NODES) backends.push(await startBackend(a))
    t.teardown(() => Promise.all(backends.map(b => b.close().catch(() => {}))))

    // The "socket unit": holds 127.0.0.1:<free port> for the whole test.
    const fdPath = join(dir, 'fds.sock')
    const holder = track(
      spawn('python3', [HOLDER, 'hold', fdPath, 'vip=127.0.0.1:0'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    )
    procs.push(holder)
    const holding = await holder.waitLog(l => l.msg === 'holding', 20_000)
    const port = (holding.sockets as { port: number }[])[0]?.port ?? 0
    const vip = { host: '127.0.0.1', port }

    const text = (services: string[]): string =>
      [
        ...NODES.map((a, i) => `traffic${i + 1} ${a}`),
        'listen 127.0.0.1',
        'port 0',
        'timeout 5000',
        `key ${KEY}`,
        'workers 1',
        ...services,
        '',
      ].join('\n')
    const service = [
      `virtual 127.0.0.1:${port}`,
      '  scheduler rr',
      '  connect-timeout 5s',
      ...backends.map(b => `  node ${b.address}:${b.port}`),
    ]
    const conf = join(dir, 'tmd.conf')
    writeFileSync(conf, text(service))
    const control = join(dir, 'ctl.sock')
    // As systemd starts the service: fds 3.. and LISTEN_* (the holder execs).
    const start = async (): Promise<Proc> => {
      const p = track(
        spawn(
          'python3',
          [
            HOLDER,
            'exec',
            fdPath,
            '--',
            process.execPath,
            binPath('traffic-manager'),
            '-c',
            conf,
            '--control',
            control,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      )
      procs.push(p)
      await p.waitLog(l => l.msg === 'traffic-manager ready', 30_000)
      return p
    }
    const reporters = NODES.map(
      n => new Reporter(n, { host: '127.0.0.1', port: 0 }, KEY),
    )
    t.teardown(() => reporters.forEach(r => r.close()))
    const serving = async (tm: Proc, what: string): Promise<void> => {
      const ready = await tm.waitLog(l => l.msg === 'traffic-manager ready')
      const reports = Number(String(ready.reports).split(':').at(-1))
      for (const r of reporters) {
        r.target = { host: '127.0.0.1', port: reports }
        r.every(100)
      }
      const end = Date.now() + 15_000
      for (;;) {
        const s = (await controlRequest(control, 'status').catch(
          () => undefined,
        )) as StatusSnapshot | undefined
        if (s?.services[0]?.nodes.every(n => n.eligible)) return
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
        await new Promise(r => setTimeout(r, 25))
      }
    }

    let tm = await start()
    const up = await tm.waitLog(l => l.msg === 'virtual service up')
    t.same(
      up.inherited,
      { fd: 3, name: 'vip' },
      'the service listens on the inherited socket',
    )
    await serving(tm, 'nodes eligible')
    t.ok(NODES.includes(await get(vip)), 'serving')

    // kill -9: no process listens, but the socket (held by the "manager") does.
    t.equal(await tm.stop('SIGKILL'), 'SIGKILL')
    for (const r of reporters) r.stop()
    const during = Array.from({ length: 10 }, () =>
      get(vip).then(
        b => b,
        (e: Error) => `failed: ${e.message}`,
      ),
    )
    tm = await start()
    await serving(tm, 'nodes eligible after the restart')
    const bodies = await Promise.all(during)
    t.same(
      bodies.filter(b => !NODES.includes(b)),
      [],
      'every connection made during the gap was served',
    )

    // A reload that would close the inherited listener is refused.
    writeFileSync(conf, text([]))
    tm.child.kill('SIGHUP')
    const rejected = await tm.waitLog(
      l => l.msg === 'reload rejected; keeping the last good configuration',
    )
    t.equal(rejected.code, 'TM_ERR_INHERITED')
    t.ok(
      NODES.includes(await get(vip)),
      'still serving after the refused reload',
    )
    // A reload that keeps it (scheduler change) applies in place.
    writeFileSync(
      conf,
      text(service.map(l => l.replace('scheduler rr', 'scheduler wrr'))),
    )
    const before = tm.logs.length
    tm.child.kill('SIGHUP')
    await tm.waitLog(
      l => l.msg === 'configuration reloaded' && tm.logs.indexOf(l) >= before,
    )
    t.ok(NODES.includes(await get(vip)), 'serving after the reload')
    t.equal(await tm.stop('SIGTERM'), 0, 'clean stop')
  },
)
