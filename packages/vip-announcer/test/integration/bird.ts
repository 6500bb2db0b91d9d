// vip-announcer against a real BIRD 2 and a real traffic-manager (root, and
// `bird` installed; skipped with the reason otherwise). BIRD runs only a
// device and a static protocol (no kernel or BGP protocol: nothing leaves
// this machine); traffic-manager proxies a loopback service and learns its
// node from load reports sent here with its own codec.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { formatReport } from '../../../traffic-manager/src/report-protocol.js'
import { createBirdClient } from '../../src/bird-client.js'
import { formatCommand, parseProtocolRows } from '../../src/bird-codec.js'
import { spawnDaemon, track, type Proc, waitFor } from '@has/test-support'
import { isRoot } from '@has/test-support'

const hasBird =
  spawnSync('bird', ['--version'], { stdio: 'ignore' }).status === 0

t.test(
  'announce when healthy, withdraw on kill -9 of traffic-manager, drain/resume, reload, SIGTERM',
  async t => {
    if (!isRoot || !hasBird) {
      const msg = `skipped: needs root and BIRD 2 (${isRoot ? 'bird not installed' : 'not root'})`
      console.log(`# ${msg}`)
      t.skip(msg, () => {})
      return
    }
    const dir = mkdtempSync(join(tmpdir(), 'has-va-'))
    const procs: Proc[] = []
    const keep = (p: Proc): Proc => (procs.push(p), p)
    const udp = createSocket('udp4')
    let timer: NodeJS.Timeout | undefined
    t.teardown(async () => {
      clearInterval(timer)
      udp.close()
      for (const p of procs) await p.stop('SIGKILL').catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    })

    const birdSock = join(dir, 'bird.ctl')
    writeFileSync(
      join(dir, 'bird.conf'),
      [
        'router id 10.255.0.1;',
        'protocol device {}',
        'protocol static vip4 { disabled; ipv4; route 10.9.0.100/32 blackhole; }',
        '',
      ].join('\n'),
    )
    keep(
      track(
        spawn(
          'bird',
          [
            '-f',
            '-c',
            join(dir, 'bird.conf'),
            '-s',
            birdSock,
            '-P',
            join(dir, 'bird.pid'),
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      ),
    )
    const bird = createBirdClient({ path: birdSock, timeoutMs: 5000 })
    t.teardown(() => bird.close())
    const vip4 = async (): Promise<string> => {
      try {
        const r = await bird.command(formatCommand('show protocols', 'vip4'))
        return parseProtocolRows(r)[0]?.state ?? 'missing'
      } catch {
        return 'unreachable'
      }
    }
    const until = async (
      what: string,
      pred: () => Promise<boolean>,
      ms = 20_000,
    ): Promise<number> => {
      const t0 = Date.now()
      await waitFor(pred, { what, timeoutMs: ms, intervalMs: 5 })
      return Date.now() - t0
    }
    await until('BIRD answering', async () => (await vip4()) === 'down')

    // traffic-manager: one proxied service on loopback, one node from reports.
    const udpPort = await new Promise<number>(r => {
      const s = createSocket('udp4')
      s.bind(0, '127.0.0.1', () => {
        const p = s.address().port
        s.close(() => r(p))
      })
    })
    writeFileSync(
      join(dir, 'tmd.conf'),
      [
        'traffic1 127.0.0.21',
        `port ${udpPort}`,
        'listen 127.0.0.1',
        'timeout 1000',
        'workers 0',
        'virtual 127.0.0.1:0',
        '    dataplane proxy',
        '    node 127.0.0.21:80',
        '',
      ].join('\n'),
    )
    const tmSock = join(dir, 'tm.sock')
    const startTm = async (): Promise<Proc> => {
      const p = keep(
        spawnDaemon('traffic-manager', [
          '-c',
          join(dir, 'tmd.conf'),
          '--control',
          tmSock,
        ]),
      )
      await p.waitLog(l => l.msg === 'traffic-manager ready', 30_000)
      return p
    }
    let tm = await startTm()
    const epoch = Date.now()
    let seq = 0
    let reporting = false
    timer = setInterval(() => {
      if (reporting)
        udp.send(
          formatReport({
            node: '127.0.0.21',
            load: 100,
            state: 'up',
            sender: 'tc',
            epoch,
            seq: ++seq,
          }),
          udpPort,
          '127.0.0.1',
        )
    }, 100)

    writeFileSync(
      join(dir, 'va.conf'),
      [
        `bird-socket ${birdSock}`,
        'protocol vip4',
        `traffic-manager ${tmSock}`,
        'check-interval 25ms',
        'check-timeout 3s',
        'settle 300ms',
        'drain 200ms',
        'bird-timeout 5s',
        '',
      ].join('\n'),
    )
    const vaSock = join(dir, 'va.sock')
    const va = keep(
      spawnDaemon('vip-announcer', [
        '-c',
        join(dir, 'va.conf'),
        '--control',
        vaSock,
      ]),
    )
    await va.waitLog(l => l.msg === 'started', 30_000)
    const status = () =>
      controlRequest(vaSock, 'status') as Promise<{
        state: string
        reason: string
        announced: boolean
      }>
    await until(
      'withdrawn for lack of nodes',
      async () => (await status()).reason === 'no-nodes',
    )
    t.equal(await vip4(), 'down', 'no node: nothing announced')

    reporting = true
    await va.waitLog(l => l.msg === 'routes announced', 20_000)
    await until('vip4 up in BIRD', async () => (await vip4()) === 'up')
    t.match(
      await status(),
      { state: 'announced', announced: true },
      'a node reported: announced after settling',
    )

    // kill -9 of traffic-manager: the held control connection closes at once.
    const killedAt = Date.now()
    await tm.stop('SIGKILL')
    const downMs = await until(
      'vip4 down after kill -9',
      async () => (await vip4()) === 'down',
      10_000,
    )
    const w = await va.waitLog(l => l.msg === 'routes withdrawn', 10_000)
    t.equal(w.reason, 'tm-down', 'withdrawn because traffic-manager went away')
    t.comment(
      `kill -9 -> vip4 down in BIRD: ${Date.now() - killedAt} ms as seen by this test (polling BIRD; ${downMs} ms of polling); announcer: ${String(w.ms)} ms from seeing the close to BIRD's confirmation`,
    )

    tm = await startTm()
    await until(
      'announced again',
      async () => (await status()).state === 'announced',
    )
    await until('vip4 up again', async () => (await vip4()) === 'up')
    t.pass('traffic-manager back with its node: announced again after settling')

    t.same(await controlRequest(vaSock, 'drain'), { state: 'draining' })
    // BIRD shows a disabled protocol as `flush` while it removes the
    // routes, then `down`: either says the disable was done.
    t.match(await vip4(), /^(flush|down)$/, 'drain answers after BIRD withdrew')
    t.same(await controlRequest(vaSock, 'resume'), { state: 'withdrawn' })
    await until('vip4 up after resume', async () => (await vip4()) === 'up')

    // A bad reload changes nothing; a good one that drops the protocol withdraws it first.
    writeFileSync(
      join(dir, 'va.conf'),
      `bird-socket ${birdSock}\nprotocol vip-4\n`,
    )
    t.same(
      await controlRequest(vaSock, 'reload'),
      { applied: false },
      'bad file refused',
    )
    t.equal(await vip4(), 'up', 'still announced')
    writeFileSync(
      join(dir, 'va.conf'),
      [
        `bird-socket ${birdSock}`,
        'protocol vip4',
        `traffic-manager ${tmSock}`,
        'check-interval 25ms',
        'check-timeout 3s',
        'settle 300ms',
        'drain 200ms',
        'min-nodes 2',
        '',
      ].join('\n'),
    )
    t.same(
      await controlRequest(vaSock, 'reload'),
      { applied: true },
      'good file applied',
    )
    await until(
      'withdrawn: min-nodes 2 with one node',
      async () => (await vip4()) === 'down',
    )
    t.match(await status(), { reason: 'no-nodes' })

    // SIGTERM withdraws before exiting (already down here: check the exit and the log).
    writeFileSync(
      join(dir, 'va.conf'),
      `bird-socket ${birdSock}\nprotocol vip4\ntraffic-manager ${tmSock}\ncheck-interval 25ms\ncheck-timeout 3s\nsettle 0\ndrain 200ms\n`,
    )
    t.same(await controlRequest(vaSock, 'reload'), { applied: true })
    await until('vip4 up with settle 0', async () => (await vip4()) === 'up')
    const code = await va.stop('SIGTERM')
    t.equal(code, 0, 'graceful exit')
    t.match(await vip4(), /^(flush|down)$/, 'SIGTERM withdrew the route')
    t.ok(
      va.logs.some(l => l.msg === 'routes withdrawn; draining before exit'),
      'drained after withdrawing',
    )
  },
)
