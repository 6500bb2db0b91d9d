// In-process: the library factory running one sync to a local directory,
// with status and metrics; and an rsync that always fails (a missing
// target parent) retrying with back-off.

import { configOrThrow } from '@has/daemon-kit'
import t from 'tap'
import { waitFor } from '@has/test-support'
import { mkdtemp, mkdir, writeFile, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHaNfsMount, parseConfig } from '../../src/index.js'

t.test('sync to a local directory, metrics and status', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hnm-sync-unit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const src = join(dir, 'a')
  const dst = join(dir, 'b')
  await mkdir(src)
  await mkdir(dst)
  await writeFile(join(src, 'f'), 'one\n')
  const config = configOrThrow(
    parseConfig(`sync-delay 20ms\nsync ${src} ${dst}\n`, 'mem'),
  )
  const svc = await createHaNfsMount({ config })
  t.teardown(() => svc.close())
  t.equal(
    await readFile(join(dst, 'f'), 'utf8'),
    'one\n',
    'initial full pass done before start resolves',
  )
  await writeFile(join(src, 'g'), 'two\n')
  const copied = await waitFor(
    async () => {
      const c = await readFile(join(dst, 'g'), 'utf8').catch(() => '')
      return c !== '' && svc.status().syncs[0]?.state === 'idle' ? c : false
    },
    {
      timeoutMs: 20_000,
      what: 'the change to be copied and the syncer to settle',
    },
  )
  t.equal(
    copied,
    'two\n',
    `copied (status ${JSON.stringify(svc.status().syncs[0])})`,
  )
  const s = svc.status().syncs[0]
  t.match(s, { state: 'idle', consecutiveFailures: 0, lastError: null })
  t.type(s?.lastLagMs, 'number')
  const text = await svc.registry?.metrics()
  t.match(text, /hnm_sync_runs_total\{[^}]*result="ok"\} [2-9]/)
  t.match(text, /hnm_sync_lag_seconds\{/)
})

t.test('failing target: counted, retried with back-off', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hnm-sync-unit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const config = configOrThrow(
    parseConfig(
      `sync-retry-min 10ms\nsync-retry-max 40ms\nsync ${dir} ${join(dir, 'missing/parent/dst')}\n`,
      'mem',
    ),
  )
  const svc = await createHaNfsMount({ config })
  t.teardown(() => svc.close())
  await waitFor(() => (svc.status().syncs[0]?.consecutiveFailures ?? 0) >= 3, {
    what: 'three failed sync attempts',
  })
  const s = svc.status().syncs[0]
  t.ok((s?.consecutiveFailures ?? 0) >= 3, 'retried')
  t.match(s?.lastError, /exit \d+/)
  t.not(s?.pendingMs, null, 'the changes stay pending')
  t.match(
    await svc.registry?.metrics(),
    /hnm_sync_runs_total\{[^}]*result="failed"\} \d/,
  )
})

t.test('missing rsync binary: HNM_ERR_RSYNC_MISSING', async t => {
  const config = configOrThrow(
    parseConfig('rsync-path /nonexistent/rsync\nsync /a /b\n', 'mem'),
  )
  await t.rejects(createHaNfsMount({ config }), {
    code: 'HNM_ERR_RSYNC_MISSING',
  })
})

t.test('reload: timings apply, topology changes are refused', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hnm-sync-unit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'a'))
  await mkdir(join(dir, 'b'))
  const text = `sync ${join(dir, 'a')} ${join(dir, 'b')}\n`
  const svc = await createHaNfsMount({
    config: configOrThrow(parseConfig(text, 'mem')),
  })
  t.teardown(() => svc.close())
  await svc.reload(configOrThrow(parseConfig(`sync-delay 1s\n${text}`, 'mem')))
  t.throws(
    () =>
      svc.reload(
        configOrThrow(
          parseConfig(`sync ${join(dir, 'a')} ${join(dir, 'c')}\n`, 'mem'),
        ),
      ),
    { code: 'HNM_ERR_RELOAD_RESTART' },
  )
})

t.test(
  'an empty source never wipes a full target; syncing resumes once it has files',
  async t => {
    const dir = await mkdtemp(join(tmpdir(), 'hnm-sync-unit-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const src = join(dir, 'unmounted')
    const dst = join(dir, 'twin')
    await mkdir(src)
    await mkdir(dst)
    await writeFile(join(dst, 'precious'), 'keep\n')
    const config = configOrThrow(
      parseConfig(
        `sync-delay 10ms\nsync-retry-min 10ms\nsync-retry-max 40ms\nsync ${src} ${dst}\n`,
        'mem',
      ),
    )
    const svc = await createHaNfsMount({ config })
    t.teardown(() => svc.close())
    const s = svc.status().syncs[0]
    t.match(
      s,
      { consecutiveFailures: 1, lastError: /source is empty/ },
      'the first pass is refused',
    )
    t.equal(
      await readFile(join(dst, 'precious'), 'utf8'),
      'keep\n',
      'the target is untouched',
    )
    t.match(
      await svc.registry?.metrics(),
      /hnm_sync_runs_total\{[^}]*result="failed"\} \d/,
    )
    // The source gets mounted (here: gets its files): the retry syncs it.
    await writeFile(join(src, 'fresh'), 'new\n')
    await waitFor(() => svc.status().syncs[0]?.consecutiveFailures === 0, {
      timeoutMs: 20_000,
      what: 'the retry to sync the filled source',
    })
    t.equal(
      await readFile(join(dst, 'fresh'), 'utf8'),
      'new\n',
      'synced after the source filled',
    )
    t.equal(
      await readFile(join(dst, 'precious'), 'utf8').catch(() => 'gone'),
      'gone',
      '--delete applies to a real source',
    )
  },
)

t.test(
  'checkSource: empty source with an empty, missing or remote target',
  async t => {
    const { checkSource, isRemoteTarget } = await import('../../src/index.js')
    const dir = await mkdtemp(join(tmpdir(), 'hnm-sync-unit-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    await mkdir(join(dir, 'a'))
    await mkdir(join(dir, 'b'))
    t.equal(
      await checkSource(join(dir, 'a'), join(dir, 'b')),
      'sync',
      'both empty: nothing to lose',
    )
    t.equal(
      await checkSource(join(dir, 'a'), join(dir, 'missing')),
      'sync',
      'missing target: nothing to lose',
    )
    t.equal(
      await checkSource(join(dir, 'a'), 'nfs2:/export/www'),
      'refuse',
      'remote: cannot prove it is empty',
    )
    await writeFile(join(dir, 'a', 'x'), '')
    t.equal(await checkSource(join(dir, 'a'), 'nfs2:/export/www'), 'sync')
    t.ok(isRemoteTarget('rsync://nfs2/www'))
    t.notOk(isRemoteTarget('/srv/twin'))
  },
)
