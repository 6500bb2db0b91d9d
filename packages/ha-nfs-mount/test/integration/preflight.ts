// Clear errors before anything is mounted or probed: not root, and no
// mount helper. The servers are loopback addresses; nothing is contacted
// because the checks come first.

import t from 'tap'
import { mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asNobody, isRoot } from '@has/test-support'
import { binPath, run } from '@has/test-support'

const args = [
  '127.0.0.2,127.0.0.3:/export',
  '/nonexistent/hnm-mnt',
  '--control',
  '/nonexistent/hnm.sock',
]

t.test('not root: HNM_ERR_NOT_ROOT, exit 1', async t => {
  if (!isRoot) {
    const r = await run(process.execPath, [binPath('ha-nfs-mount'), ...args])
    t.equal(r.code, 1)
    t.match(r.stderr, /HNM_ERR_NOT_ROOT/)
    return
  }
  // Root here: drop to nobody for this one run.
  const argv = asNobody(t, binPath('ha-nfs-mount'), args)
  if (!argv) return
  const r = await run(argv[0] as string, argv.slice(1))
  t.equal(r.code, 1, 'exit 1')
  t.match(
    r.stderr,
    /HNM_ERR_NOT_ROOT: mounting needs root \(CAP_SYS_ADMIN\); running as uid 65534/,
  )
})

t.test('no mount helper in PATH: HNM_ERR_MOUNT_HELPER, exit 1', async t => {
  if (!isRoot) {
    t.plan(0, 'needs root to get past the privilege check')
    return
  }
  const r = await run(process.execPath, [binPath('ha-nfs-mount'), ...args], {
    env: { ...process.env, PATH: '/nonexistent' },
  })
  t.equal(r.code, 1, 'exit 1')
  t.match(r.stderr, /HNM_ERR_MOUNT_HELPER: mount helper mount not found/)
})

t.test('no stat in PATH: HNM_ERR_MOUNT_HELPER before any probe', async t => {
  if (!isRoot) {
    t.plan(0, 'needs root to get past the privilege check')
    return
  }
  const dir = await mkdtemp(join(tmpdir(), 'hnm-path-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const helper of ['mount', 'umount']) {
    const found = (
      await run('sh', ['-c', `command -v ${helper}`])
    ).stdout.trim()
    await symlink(found, join(dir, helper))
  }
  const r = await run(process.execPath, [binPath('ha-nfs-mount'), ...args], {
    env: { ...process.env, PATH: dir },
  })
  t.equal(r.code, 1, 'exit 1')
  t.match(r.stderr, /HNM_ERR_MOUNT_HELPER: mount helper stat not found/)
})
