// Kill the active nfs-ganesha while a reader loops over files at the
// presented mount point: reads go on, and switch to the other replica;
// bring it back: after the hold time the mount fails back.
// Seam: this kernel has no NFS client, so the daemon runs with
// `mounter bind` (bind mounts of the exported directories); the NFS
// servers, their RPC NULL probes and the mount-point swap are all real.

import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { needsRoot, waitFor } from '@has/test-support'
import { run, runBin } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import { makeNfsLab } from '../helpers/lab.js'

t.test('failover when the active ganesha dies', async t => {
  if (!needsRoot(t)) return
  const lab = await makeNfsLab('fo')
  t.teardown(() => lab.cleanup())
  for (let i = 0; i < 2; i++) {
    for (let f = 0; f < 5; f++) {
      await writeFile(
        join(lab.exports[i] as string, `file${f}`),
        `content ${f}\n`,
      )
    }
    await writeFile(
      join(lab.exports[i] as string, 'server-id'),
      `server${i + 1}\n`,
    )
  }
  const conf = join(lab.dir, 'hnm.conf')
  await writeFile(conf, lab.configText('', '500ms'))
  const control = join(lab.dir, 'ctl.sock')
  // /metrics on the client namespace's own loopback (read from inside it).
  const d = lab.spawnDaemon([
    '--config',
    conf,
    '--control',
    control,
    '--metrics',
    '127.0.0.1:9520',
  ])
  await d.waitLog(l => l.event === 'present' && l.to === '10.77.1.2')
  t.equal(
    (await readFile(join(lab.mountPoint, 'server-id'), 'utf8')).trim(),
    'server1',
  )

  // Both servers up (server2's first probe may lose a race on a busy box:
  // ask again, bounded).
  const st = await waitFor(
    async () => {
      const s = await runBin('ha-nfs-mount', ['status', '--control', control])
      return /10\.77\.2\.2\s+up/.test(s.stdout) && s
    },
    { timeoutMs: 5000, intervalMs: 100, what: 'status to show server2 up' },
  )
  t.equal(st.code, 0, 'status exits 0')
  t.match(
    st.stdout,
    /10\.77\.1\.2\s+up\s+\*/,
    'status shows server1 up and active',
  )
  t.match(st.stdout, /10\.77\.2\.2\s+up/, 'status shows server2 up')

  // Reader: loops over every file, counts failed reads, notes when it
  // first sees server2's id.
  let reading = true
  let failedReads = 0
  let reads = 0
  let sawServer2At = 0
  const reader = (async () => {
    const stopAt = Date.now() + 20_000
    while (reading && Date.now() < stopAt) {
      for (const f of [
        'file0',
        'file1',
        'file2',
        'file3',
        'file4',
        'server-id',
      ]) {
        try {
          const text = await readFile(join(lab.mountPoint, f), 'utf8')
          reads++
          if (f === 'server-id' && text.trim() === 'server2' && !sawServer2At) {
            sawServer2At = performance.now()
          }
        } catch {
          failedReads++
        }
      }
    }
  })()
  const killFrom = d.logs.length
  const killedAt = performance.now()
  await lab.servers[0]?.kill()
  const ev = await d.waitLog(
    l => d.logs.indexOf(l) >= killFrom && l.event === 'failover',
  )
  t.equal(ev.to, '10.77.2.2', 'switched to server2')
  await waitFor(() => sawServer2At > 0, {
    timeoutMs: 15_000,
    intervalMs: 5,
    what: 'the reader to see server2 after the kill',
  })
  reading = false
  await reader
  t.ok(sawServer2At, 'the reader sees server2 after the kill')
  t.equal(failedReads, 0, `no failed read out of ${reads}`)
  t.comment(
    `kill -> first read from server2: ${(sawServer2At - killedAt).toFixed(1)} ms (swap ${Number(ev.swapMs).toFixed(1)} ms)`,
  )

  const json = JSON.parse(
    (await runBin('ha-nfs-mount', ['status', '--json', '--control', control]))
      .stdout,
  )
  t.equal(json.mounts[0].active, '10.77.2.2')
  t.equal(json.mounts[0].servers[0].healthy, false)
  t.match(json.mounts[0].servers[0].lastError, /ECONNREFUSED|timeout/)

  // Failback: server1 comes back, is healthy for the hold time, and the
  // top layer (server2) is lazily unmounted: server1 shows again.
  const backFrom = d.logs.length
  await lab.restartServer(0)
  const back = await d.waitLog(
    l => d.logs.indexOf(l) >= backFrom && l.event === 'failover',
    20_000,
  )
  t.match(
    back,
    { to: '10.77.1.2', how: 'pop', reason: /failback/ },
    'failed back by popping the top layer',
  )
  t.equal(
    (await readFile(join(lab.mountPoint, 'server-id'), 'utf8')).trim(),
    'server1',
  )
  const after = JSON.parse(
    (await runBin('ha-nfs-mount', ['status', '--json', '--control', control]))
      .stdout,
  )
  t.same(after.mounts[0].layers, ['10.77.1.2'], 'one layer left')
  t.equal(after.mounts[0].failovers, 2)

  const metrics = await run('ip', [
    'netns',
    'exec',
    lab.client,
    'curl',
    '-sf',
    'http://127.0.0.1:9520/metrics',
  ])
  t.equal(metrics.code, 0, 'metrics served')
  t.match(
    metrics.stdout,
    /hnm_failovers_total\{[^}]*from="10\.77\.1\.2"[^}]*to="10\.77\.2\.2"[^}]*\} 1/,
  )
  t.match(
    metrics.stdout,
    /hnm_active_server\{[^}]*server="10\.77\.1\.2"[^}]*\} 1/,
  )
  t.match(
    metrics.stdout,
    /hnm_probe_failures_total\{[^}]*server="10\.77\.1\.2"[^}]*probe="rpc"[^}]*\} [1-9]/,
  )

  // A bad edit is rejected with file:line and the daemon keeps going; a
  // change that needs a restart is refused the same way.
  const good = await readFile(conf, 'utf8')
  const logFrom = d.logs.length
  await writeFile(conf, `failures lots\n${good}`)
  t.same(
    await controlRequest(control, 'reload'),
    { applied: false },
    'bad config not applied',
  )
  const rejected = await d.waitLog(
    l => d.logs.indexOf(l) >= logFrom && /reload rejected/.test(String(l.msg)),
  )
  t.match(
    rejected.issues,
    [{ file: conf, line: 1, value: 'lots' }],
    'the log names file:line and the value',
  )
  await writeFile(conf, good.replace('failures 3', 'failures 4'))
  t.same(
    await controlRequest(control, 'reload'),
    { applied: false },
    'restart-only change refused',
  )
  await d.waitLog(
    l => d.logs.indexOf(l) >= logFrom && l.code === 'HNM_ERR_RELOAD_RESTART',
  )
  await writeFile(conf, good)
  // The file watcher reloads too; a request that joins its in-flight
  // reload of the previous content answers false: ask again, bounded.
  const applied = await waitFor(
    async () =>
      ((await controlRequest(control, 'reload')) as { applied: boolean })
        .applied,
    { timeoutMs: 5000, intervalMs: 100, what: 'the good config to reload' },
  )
  t.ok(applied, 'the good config reloads')
  const still = JSON.parse(
    (await runBin('ha-nfs-mount', ['status', '--json', '--control', control]))
      .stdout,
  )
  t.equal(
    still.mounts[0].active,
    '10.77.1.2',
    'still serving after the rejected reloads',
  )

  t.equal(await d.stop('SIGTERM'), 0, 'clean exit on SIGTERM')
  const mounts = await readFile('/proc/self/mountinfo', 'utf8')
  t.notOk(
    mounts.includes(` ${lab.mountPoint} `),
    'mount point unmounted on exit',
  )
  t.notOk(mounts.includes(lab.staging), 'staging mounts gone on exit')
})
