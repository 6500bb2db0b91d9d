// radvd-lite against the Linux kernel as a host, in namespaces made here:
// SLAAC address and default route appear, rdisc6 reads the configured
// values, a reload deprecates a removed prefix, bad solicitations are
// dropped and counted, and the final RAs remove the default route.

import type { RadvdLiteStatus } from '../../src/service.js'
import t from 'tap'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { asNobody, needsRoot } from '@has/test-support'
import { binPath, run, runBin, spawnDaemon } from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import { makeLab, startProbe, until } from '../helpers/lab.js'
import { buildRa, parseRa } from '../../src/ra.js'

const conf = (ifname: string, withSecond: boolean): string => `
# cluster LAN of a master node
interface ${ifname} {
  AdvSendAdvert on;
  MinRtrAdvInterval 30;
  MaxRtrAdvInterval 60;
  AdvDefaultLifetime 180;
  AdvManagedFlag off;
  AdvOtherConfigFlag on;
  AdvLinkMTU 1400;
  AdvReachableTime 30000;
  AdvRetransTimer 1000;
  AdvCurHopLimit 64;
  prefix 2001:db8:10::/64 {
    AdvOnLink on;
    AdvAutonomous on;
    AdvValidLifetime 86400;
    AdvPreferredLifetime 14400;
  };
${withSecond ? `  prefix 2001:db8:20::/64 { AdvValidLifetime 3600; AdvPreferredLifetime 1800; };` : ''}
  RDNSS 2001:db8:10::53 { AdvRDNSSLifetime 600; };
  DNSSL cluster.example { };
};
`

t.test('SLAAC, rdisc6, reload deprecation, bad RS, final RAs', async t => {
  if (!needsRoot(t)) return
  const { lab, r, h, rif, hif } = await makeLab('k')
  t.teardown(() => lab.cleanup())
  const dir = t.testdir({})
  const file = join(dir, 'radvd.conf')
  writeFileSync(file, conf(rif, true))
  // Unix socket paths are limited to 107 bytes: keep this one short.
  const ctl = join(mkdtempSync(join(tmpdir(), 'ra-')), 'c.sock')
  const d = spawnDaemon(
    'radvd-lite',
    [
      '-C',
      file,
      '--control',
      ctl,
      '--log-level',
      'debug',
      '--metrics',
      '127.0.0.1:0',
    ],
    { netns: r },
  )
  t.teardown(() => d.stop('SIGKILL'))
  const metricsAt = String(
    (await d.waitLog(l => l.msg === 'metrics listener up')).listen,
  )
  await d.waitLog(l => l.msg === 'started')
  const rll = (
    await lab.ip(r, ['-6', 'addr', 'show', 'dev', rif, 'scope', 'link'])
  ).match(/inet6 (fe80::[0-9a-f:]+)/)![1]!

  // The host's kernel configures an address and a default route.
  const addr = await until('SLAAC address', async () => {
    const out = await lab.ip(h, ['-6', 'addr', 'show', 'dev', hif])
    return /inet6 (2001:db8:10:0:[0-9a-f:]+)\/64/.exec(out)?.[1]
  })
  t.ok(addr, `host autoconfigured ${addr}`)
  const route = await until('default route', async () => {
    const out = await lab.ip(h, ['-6', 'route', 'show', 'default'])
    return out.includes(`via ${rll}`) ? out : undefined
  })
  t.match(route, /proto ra/, 'default route learned from the RA')
  t.match(route, /mtu 1400/, 'MTU option applied')

  // rdisc6 solicits (hop limit 255) and prints what was configured.
  const rd = await run('ip', [
    'netns',
    'exec',
    h,
    'rdisc6',
    '-1',
    '-w',
    '3000',
    hif,
  ])
  t.equal(rd.code, 0, 'rdisc6 got an answer')
  const out = rd.stdout
  t.match(out, /Hop limit\s+:\s+64/)
  t.match(out, /Stateful address conf\.\s+:\s+No/)
  t.match(out, /Stateful other conf\.\s+:\s+Yes/)
  t.match(out, /Router lifetime\s+:\s+180 /)
  t.match(out, /Reachable time\s+:\s+30000 /)
  t.match(out, /Retransmit time\s+:\s+1000 /)
  t.match(
    out,
    /Prefix\s+:\s+2001:db8:10::\/64\s+On-link\s+:\s+Yes\s+Autonomous address conf\.:\s+Yes\s+Valid time\s+:\s+86400 .*\s+Pref\. time\s+:\s+14400 /,
  )
  t.match(out, /Prefix\s+:\s+2001:db8:20::\/64/)
  t.match(out, /MTU\s+:\s+1400 bytes/)
  t.match(
    out,
    /Recursive DNS server\s+:\s+2001:db8:10::53\s+DNS servers? lifetime\s+:\s+600 /,
  )
  t.match(out, /DNS search list\s+:\s+cluster\.example/)
  t.match(out, new RegExp(`from ${rll}`))

  // Solicitations with hop limit < 255 are ignored; malformed ones counted.
  const probe = await startProbe(h, hif)
  t.teardown(() => probe.stop('SIGKILL'))
  const before = d.logs.length
  await probe.send('8500000000000000', 'ff02::2', 64)
  await d.waitLog(
    l =>
      l.msg === 'RS dropped' &&
      l.reason === 'hoplimit' &&
      d.logs.indexOf(l) >= before,
  )
  await probe.send('8501000000000000', 'ff02::2', 255) // code 1
  await probe.send('85000000000000000100000000000000', 'ff02::2', 255) // option length 0
  await probe.send('850000000000000001', 'ff02::2', 255) // truncated option
  await until('malformed RS counted', async () => {
    const s = (await controlRequest(ctl, 'status')) as RadvdLiteStatus
    return s.interfaces[0]!.rsDropped.malformed >= 3 ? s : undefined
  })
  const st = (await controlRequest(ctl, 'status')) as RadvdLiteStatus
  t.same(
    st.interfaces[0]!.rsDropped,
    { hoplimit: 1, malformed: 3 },
    'each bad RS counted once',
  )
  // /metrics listens on the router namespace's loopback: fetch it there.
  const metrics = await lab.exec(r, process.execPath, [
    '-e',
    `fetch('http://${metricsAt}/metrics').then(r => r.text()).then(t => process.stdout.write(t))`,
  ])
  t.match(
    metrics,
    new RegExp(
      `radvd_lite_rs_dropped_total\\{interface="${rif}",reason="hoplimit"\\} 1`,
    ),
  )
  t.match(
    metrics,
    new RegExp(
      `radvd_lite_rs_dropped_total\\{interface="${rif}",reason="malformed"\\} 3`,
    ),
  )
  t.equal(st.interfaces[0]!.state, 'advertising', 'daemon still advertising')
  t.notOk(
    d.logs
      .slice(before)
      .some(l => l.msg === 'RA sent' && l.kind !== 'unsolicited'),
    'no answer to the bad solicitations',
  )
  // The same RS with hop limit 255 is answered (unicast, radvd's default).
  const mark = probe.logs.length
  await probe.send('8500000000000000', 'ff02::2', 255)
  // (An unsolicited multicast RA of the initial burst may come first.)
  const ans = await probe.packetAfter(
    mark,
    l => String(l.hex).startsWith('86') && l.dst !== 'ff02::1',
  )
  t.equal(ans.hop, 255, 'RA arrives with hop limit 255')
  t.equal(ans.src, rll, 'from the router link-local address')
  t.match(ans.dst, /^fe80::/, 'solicited RA unicast to the soliciting host')

  // Another router on the link with a contradicting MTU is reported. It
  // carries its own MAC: a copy of ours would also teach the router's
  // kernel that the host lives at the router's MAC, and the unicast
  // answers to rdisc6 below would be lost until that entry is probed out.
  const hostMac = /link\/ether ([0-9a-f:]{17})/.exec(
    await lab.ip(h, ['link', 'show', 'dev', hif]),
  )![1]!
  const other = buildRa({
    ...parseRa(Buffer.from(String(ans.hex), 'hex')),
    mtu: 1280,
    sourceLL: hostMac,
  })
  await probe.send(other.toString('hex'), 'ff02::1', 255)
  const inc = await d.waitLog(
    l => l.msg === 'another router advertises inconsistent values',
  )
  t.match(
    inc,
    { diffs: [{ field: 'mtu', ours: 1400, theirs: 1280 }] },
    'inconsistent foreign RA logged',
  )

  // Reload without the second prefix: hosts see it deprecated, not dropped.
  writeFileSync(file, conf(rif, false))
  process.kill(d.pid, 'SIGHUP')
  await d.waitLog(l => l.msg === 'configuration reloaded')
  const rd2 = await run('ip', [
    'netns',
    'exec',
    h,
    'rdisc6',
    '-1',
    '-w',
    '3000',
    hif,
  ])
  t.match(
    rd2.stdout,
    /Prefix\s+:\s+2001:db8:20::\/64[\s\S]*?Valid time\s+:\s+3[56]\d\d [\s\S]*?Pref\. time\s+:\s+0 /,
    'removed prefix advertised with preferred 0',
  )
  await until('deprecated address', async () => {
    const o = await lab.ip(h, ['-6', 'addr', 'show', 'dev', hif])
    return /2001:db8:20:[0-9a-f:]+\/64 scope global deprecated/.test(o)
      ? o
      : undefined
  })
  t.pass('host marked the address in the removed prefix deprecated')

  // A bad edit is refused and the last good config keeps running.
  writeFileSync(
    file,
    conf(rif, false).replace('MaxRtrAdvInterval 60;', 'MaxRtrAdvInterval 2;'),
  )
  process.kill(d.pid, 'SIGHUP')
  const rej = await d.waitLog(
    l => l.msg === 'reload rejected; keeping the last good configuration',
  )
  t.match(rej, { issues: [{ message: /MaxRtrAdvInterval/, value: '2' }] })
  const stat = await runBin('radvd-lite', ['status', '--control', ctl])
  t.equal(stat.code, 0)
  t.match(
    stat.stdout,
    new RegExp(`${rif}\\s+advertising\\s+${rll}`),
    'status: interface advertising',
  )
  t.match(
    stat.stdout,
    /2001:db8:20::\/64\s+\d+\s+0\s+deprecated/,
    'status: deprecated prefix',
  )

  // The default route disappears after the final RAs.
  t.equal(await d.stop('SIGTERM'), 0, 'clean exit')
  t.ok(
    d.logs.some(l => l.msg === 'RA sent' && l.kind === 'final'),
    'final RA sent',
  )
  await until('default route gone', async () => {
    const o = await lab.ip(h, ['-6', 'route', 'show', 'default'])
    return o.trim() === '' ? true : undefined
  })
  t.pass('host dropped the default route after the final RAs')
})

t.test('clear errors: missing interface, missing privilege', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'ra-'))
  const strict = join(dir, 'strict.conf')
  writeFileSync(
    strict,
    'interface nosuchif0 { AdvSendAdvert on; IgnoreIfMissing off; };\n',
    { mode: 0o644 },
  )
  const r1 = await runBin('radvd-lite', [
    '-C',
    strict,
    '--control',
    join(dir, 'a.sock'),
  ])
  t.equal(r1.code, 1)
  t.match(r1.stderr, /RA_ERR_IFACE_MISSING: interface nosuchif0 does not exist/)

  if (!needsRoot(t)) return
  // Without CAP_NET_RAW (uid nobody, no capabilities) the socket is refused.
  const conf = join(dir, 'lo.conf')
  writeFileSync(conf, 'interface lo { AdvSendAdvert on; };\n', { mode: 0o644 })
  chmodSync(dir, 0o755)
  const argv = asNobody(t, binPath('radvd-lite'), [
    '-C',
    conf,
    '--control',
    join(dir, 'b.sock'),
  ])
  if (!argv) return
  const r2 = await run(argv[0] as string, argv.slice(1))
  t.equal(r2.code, 1, r2.stderr)
  t.match(
    r2.stderr,
    /RA_ERR_PRIVILEGE: opening a raw ICMPv6 socket on lo needs CAP_NET_RAW/,
  )
})
