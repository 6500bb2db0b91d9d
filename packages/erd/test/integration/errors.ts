// Clear start-up errors from the real binary.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { needsRoot } from '@has/test-support'
import { binPath, run, runBin } from '@has/test-support'

t.test('clear errors: missing interface', async t => {
  if (!needsRoot(t)) return
  const r = await runBin('erd', [
    'nosuch0',
    'nosuch1',
    '-c',
    '/nonexistent/erd.conf',
    '--control',
    join(mkdtempSync(join(tmpdir(), 'erd-')), 's'),
  ])
  t.equal(r.code, 3, 'a named config file that is missing is a config error')
  const dir = mkdtempSync(join(tmpdir(), 'erd-'))
  writeFileSync(join(dir, 'erd.conf'), '')
  const r2 = await runBin('erd', [
    'nosuch0',
    'nosuch1',
    '-c',
    join(dir, 'erd.conf'),
    '--control',
    join(dir, 's'),
  ])
  t.equal(r2.code, 1)
  t.match(
    r2.stderr,
    /ERD_ERR_NO_INTERFACE: interface "nosuch0" \(primary\) does not exist/,
  )
})

t.test('clear errors: missing privileges', async t => {
  if (!needsRoot(t)) return
  const dir = mkdtempSync(join(tmpdir(), 'erd-'))
  writeFileSync(join(dir, 'erd.conf'), '')
  // Root without CAP_NET_ADMIN (dropped from the bounding set, so the exec'd
  // node never gets it): refused before any interface is looked at.
  const r = await run('setpriv', [
    '--bounding-set',
    '-net_admin',
    process.execPath,
    binPath('erd'),
    'nosuch0',
    'nosuch1',
    '-c',
    join(dir, 'erd.conf'),
    '--control',
    join(dir, 's'),
  ])
  t.equal(r.code, 1)
  t.match(r.stderr, /ERD_ERR_PRIVILEGE: erd needs CAP_NET_ADMIN/)
})
