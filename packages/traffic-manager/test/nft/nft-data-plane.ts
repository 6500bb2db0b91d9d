// The data plane driven through a recording exec (pure behaviour), then for
// real inside a namespace made by the test (root only).
import t from 'tap'
import { silentLogger } from '@has/daemon-kit'
import { openNftDataPlane, createNftDataPlane } from '../../src/nft/nft-data-plane.js'
import type { Exec } from '../../src/nft/kernel-exec.js'
import { needsRoot, NetnsLab, sh } from '../../../../test/helpers/netns.js'

const spec = { name: '10.9.0.100:80', address: '10.9.0.100', port: 80, family: 4 as const }
const ctx = { logger: silentLogger() }
const be = (host: string, weight: number) => ({ id: host, host, port: 8080, weight })

t.test('refuses clearly without CAP_NET_ADMIN', async t => {
  await t.rejects(openNftDataPlane(spec, ctx, {}, { hasNetAdmin: () => false }), {
    code: 'TM_ERR_NFT_NO_CAP',
  })
})

t.test('bad options are refused with the service named', async t => {
  await t.rejects(openNftDataPlane(spec, ctx, { snat: 'x!' }, { hasNetAdmin: () => true }), {
    code: 'TM_ERR_NFT_OPTION',
  })
})

t.test('refuses clearly when the namespace does not forward (v4, and v6 for v6 services)', async t => {
  const asked: string[] = []
  const off: Exec = async (cmd, args) => {
    if (cmd === 'sysctl') asked.push(String(args[1]))
    return { code: 0, stdout: cmd === 'sysctl' ? '0\n' : '', stderr: '' }
  }
  await t.rejects(openNftDataPlane(spec, ctx, {}, { exec: off, hasNetAdmin: () => true }), {
    code: 'TM_ERR_NFT_FORWARDING',
    message: /10\.9\.0\.100:80.*net\.ipv4\.ip_forward is 0/,
  })
  const v6 = { name: '[fd00::100]:80', address: 'fd00::100', port: 80, family: 6 as const }
  await t.rejects(openNftDataPlane(v6, ctx, {}, { exec: off, hasNetAdmin: () => true }), {
    code: 'TM_ERR_NFT_FORWARDING',
    message: /net\.ipv6\.conf\.all\.forwarding is 0/,
  })
  t.same(asked, ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'])
  // Unreadable (no sysctl program): a warning, not a refusal.
  const none: Exec = async cmd => {
    if (cmd === 'sysctl') throw new Error('spawn sysctl ENOENT')
    return { code: 0, stdout: '', stderr: '' }
  }
  const dp = await openNftDataPlane(spec, ctx, {}, { exec: none, hasNetAdmin: () => true })
  await dp.close()
})

t.test('every update is one transaction; stale counters go; close deletes the table', async t => {
  const scripts: string[] = []
  const exec: Exec = async (cmd, args, stdin) => {
    if (cmd === 'nft' && args[0] === '-f') scripts.push(stdin ?? '')
    if (cmd === 'nft' && args[0] === '-j') {
      return { code: 0, stderr: '', stdout: JSON.stringify({ nftables: [{ counter: { name: 'c_10_9_0_21_8080', packets: 4, bytes: 240 } }] }) }
    }
    return { code: 0, stdout: '', stderr: '' }
  }
  const dp = await openNftDataPlane(spec, ctx, {}, { exec, hasNetAdmin: () => true })
  t.equal(dp.kind, 'nftables')
  t.match(scripts[0], /^delete table ip has_tm_10_9_0_100_80/)
  await dp.update([be('10.9.0.21', 1), be('10.9.0.22', 1)])
  await dp.update([be('10.9.0.21', 1)])
  t.match(scripts.at(-1), 'delete counter ip has_tm_10_9_0_100_80 c_10_9_0_22_8080')
  const c = await dp.counters()
  t.equal(c.get('10.9.0.21')?.total, 4)
  await dp.close()
  t.equal(scripts.at(-1), 'delete table ip has_tm_10_9_0_100_80\n')
})

t.test('nft errors name the service', async t => {
  let n = 0
  const exec: Exec = async () => (n++ === 0 ? { code: 0, stdout: '', stderr: '' } : { code: 1, stdout: '', stderr: 'Error: boom' })
  await t.rejects(openNftDataPlane(spec, ctx, {}, { exec, hasNetAdmin: () => true }), {
    code: 'TM_ERR_NFT_APPLY',
    message: /10\.9\.0\.100:80.*boom/,
  })
})

t.test('kernel: programs, rewrites and removes its table in a namespace', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('nft')
  t.teardown(() => lab.cleanup())
  const ns = await lab.add('m')
  // Run the factory in-process but aim nft at the namespace.
  const exec: Exec = async (cmd, args, stdin) => {
    const { execProgram } = await import('../../src/nft/kernel-exec.js')
    return execProgram('ip', ['netns', 'exec', ns, cmd, ...args], stdin)
  }
  // A fresh namespace does not forward: the data plane refuses to start.
  await t.rejects(openNftDataPlane(spec, ctx, {}, { exec }), { code: 'TM_ERR_NFT_FORWARDING' })
  await lab.exec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  const dp = await openNftDataPlane(spec, ctx, {}, { exec })
  await dp.update([be('10.9.0.21', 3), be('10.9.0.22', 1)])
  let text = await sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'has_tm_10_9_0_100_80'])
  t.match(text, /numgen random mod 4 map \{ 0-2 : 10\.9\.0\.21 \. 8080, 3 : 10\.9\.0\.22 \. 8080 \}/)
  await dp.update([be('10.9.0.21', 1), be('10.9.0.22', 0)])
  text = await sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'ip', 'has_tm_10_9_0_100_80'])
  t.match(text, /numgen random mod 1 map \{ 0 : 10\.9\.0\.21 \. 8080 \}/)
  t.match(text, /counter c_10_9_0_22_8080/)
  const c = await dp.counters()
  t.same([...c.keys()].sort(), ['10.9.0.21', '10.9.0.22'])
  await dp.close()
  text = await sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'tables'])
  t.notMatch(text, /has_tm/)
  t.equal(typeof createNftDataPlane, 'function')
})
