// examples/master-node-bgp stays loadable: both BIRD files parse (`bird -p`),
// tmd.conf and vip-announcer.conf pass --check-config, and the unit passes
// only options vip-announcer accepts. (test/examples.ts covers the
// master-node and traffic-node roles; this role also holds BIRD files.)
import t from 'tap'
import { execFile, spawnSync } from 'node:child_process'
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, binPath } from '@has/test-support'

const run = promisify(execFile)
const EX = join(ROOT, 'examples', 'master-node-bgp')

t.test('BIRD configs parse', async t => {
  if (spawnSync('bird', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.log('# skipped: bird (BIRD 2) is not installed')
    t.skip('skipped: bird (BIRD 2) is not installed', () => {})
    return
  }
  for (const f of ['bird.conf', 'router-bird.conf']) {
    const r = spawnSync('bird', ['-p', '-c', join(EX, 'bird', f)], {
      encoding: 'utf8',
    })
    t.equal(r.status, 0, `${f}: ${r.stderr.trim()}`)
  }
})

t.test('tmd.conf and vip-announcer.conf pass --check-config', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'has-bgp-ex-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tmd = readFileSync(
    join(EX, 'traffic-manager', 'tmd.conf'),
    'utf8',
  ).replace('/etc/has/report.key', join(dir, 'report.key'))
  writeFileSync(join(dir, 'tmd.conf'), tmd)
  writeFileSync(join(dir, 'report.key'), 'example-secret-0123456789abcdef\n')
  chmodSync(join(dir, 'report.key'), 0o600)
  await run(process.execPath, [
    binPath('traffic-manager'),
    '--check-config',
    '-c',
    join(dir, 'tmd.conf'),
  ])
  await run(process.execPath, [
    binPath('vip-announcer'),
    '--check-config',
    '-c',
    join(EX, 'vip-announcer', 'vip-announcer.conf'),
  ])
  t.pass('both valid')
})

t.test('the unit starts vip-announcer with options it knows', async t => {
  const unit = readFileSync(
    join(EX, 'vip-announcer', 'vip-announcer.service'),
    'utf8',
  )
  const { stdout: help } = await run(process.execPath, [
    binPath('vip-announcer'),
    '--help',
  ])
  const lines = [
    ...unit.matchAll(
      /^Exec(?:Start|StartPre|Reload)=\/usr\/bin\/vip-announcer(.*)$/gm,
    ),
  ]
  t.equal(lines.length, 2, 'ExecStartPre and ExecStart')
  for (const [, rest] of lines) {
    for (const opt of (rest as string).matchAll(/(?:^|\s)(--[a-z][\w-]*)/g))
      t.ok(help.includes(opt[1] as string), `accepts ${opt[1]}`)
  }
  // Every protocol the announcer manages is disabled again when it stops.
  const conf = readFileSync(
    join(EX, 'vip-announcer', 'vip-announcer.conf'),
    'utf8',
  )
  for (const m of conf.matchAll(/^protocol\s+(\S+)/gm))
    t.match(
      unit,
      new RegExp(`ExecStopPost=-/usr/sbin/birdc .* disable ${m[1]}$`, 'm'),
      `ExecStopPost disables ${m[1]}`,
    )
})
