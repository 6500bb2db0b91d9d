// The stat probe runs in a child with a hard timeout. A hung NFS stat is
// stood in for by a helper that never returns (the kernel here has no NFS
// client to hang on); the daemon side is the real code.
import t from 'tap'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StatProbe } from '../src/stat-probe.js'

t.test('a healthy directory stats fine', async t => {
  const r = await new StatProbe(tmpdir()).probe(5000)
  t.equal(r.ok, true)
})

t.test('a missing directory fails with the stat error', async t => {
  const r = await new StatProbe('/nonexistent/replica').probe(5000)
  t.equal(r.ok, false)
  t.match(r.error, /No such file/)
})

t.test('a hung stat times out, the loop stays free, no pile-up', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hnm-stat-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const hang = join(dir, 'hang')
  await writeFile(hang, '#!/bin/sh\nexec sleep 30\n')
  await chmod(hang, 0o755)
  const probe = new StatProbe(dir, hang)
  let ticks = 0
  const ticker = setInterval(() => ticks++, 5)
  const r = await probe.probe(100)
  clearInterval(ticker)
  t.equal(r.ok, false)
  t.match(r.error, /hung/)
  t.ok(ticks > 0, 'timers ran while the stat hung')
  t.equal(probe.busy, true, 'the replica is marked busy')
  const again = await probe.probe(100)
  t.match(again, { ok: false, error: 'previous stat still hung' })
})
