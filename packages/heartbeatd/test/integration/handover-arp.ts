// Issue 18 item 5 through heartbeatd itself: on a hand-over the releasing
// master's announcements must end before the new owner's begin. heartbeatd
// runs the shipped IPaddr in-process (long-lived `ip -batch` and announcer,
// issue 15); its stop ends the announcer's sequence, waits for the answer,
// then removes the address. Two masters and a client on a bridge, all made
// by this test; the client captures ARP on the wire.

import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { NetnsLab, needsRoot, waitFor } from '@has/test-support'
import { spawnDaemon, track, type LogLine, type Proc } from '@has/test-support'

const VIP = '10.76.0.50'

t.test('hand-over: no announcement from the releasing master', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('hoa')
  const procs: Proc[] = []
  t.teardown(async () => {
    for (const p of procs) await p.stop('SIGKILL')
    await lab.cleanup()
  })
  const ns = await lab.lan([
    ['master1', '10.76.0.1/24'],
    ['master2', '10.76.0.2/24'],
    ['client', '10.76.0.100/24'],
  ] as const)
  const dir = mkdtempSync(join(tmpdir(), 'hb-hoa-'))
  const start = (name: 'master1' | 'master2'): Proc => {
    const d = join(dir, name)
    mkdirSync(d, { recursive: true })
    writeFileSync(
      join(d, 'ha.cf'),
      [
        'keepalive 50ms',
        'deadtime 500ms',
        'initdead 2',
        'bcast eth0',
        'node master1 master2',
        `state_dir ${d}/state`,
        '',
      ].join('\n'),
    )
    writeFileSync(join(d, 'authkeys'), 'auth 1\n1 sha1 hand-over-test-secret\n')
    chmodSync(join(d, 'authkeys'), 0o600)
    writeFileSync(join(d, 'haresources'), `master1 ${VIP}/24/eth0\n`)
    const p = spawnDaemon(
      'heartbeatd',
      [
        '--config',
        join(d, 'ha.cf'),
        '--node',
        name,
        '--control',
        join(dir, `${name}.sock`),
      ],
      { netns: ns[name] },
    )
    procs.push(p)
    return p
  }
  const mac = async (n: string): Promise<string> =>
    (await lab.exec(n, 'cat', ['/sys/class/net/eth0/address'])).trim()
  const mac1 = await mac(ns.master1)
  const mac2 = await mac(ns.master2)
  const cap = track(
    spawn(
      'ip',
      [
        'netns',
        'exec',
        ns.client,
        'sh',
        '-c',
        'exec tcpdump -i eth0 -n -l -e arp 2>&1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  )
  procs.push(cap)
  await cap.waitLog(l => String(l.msg).includes('listening on'))
  const arps = (): string[] =>
    cap.logs
      .map(l => String(l.msg))
      .filter(m => m.includes(`tell ${VIP}`))
      .map(m => (m.split(' ')[1] ?? '').replace(/,$/, ''))
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    await waitFor(ok, { what, timeoutMs: 10_000 })
  }
  const holder = (who: string) => (l: LogLine) =>
    l.msg === 'resource holder' && l.holder === who

  const a = start('master1')
  const b = start('master2')
  const timing = await a.waitLog(l => l.msg === 'group start timing')
  t.match(timing, { native: true, group: 'master1' }, 'IPaddr ran in-process')
  await b.waitLog(holder('master1'))
  await until('master1 announcing', () => arps().includes(mac1))

  // master1 hands over; master2 takes the VIP and starts announcing.
  t.same(await controlRequest(join(dir, 'master1.sock'), 'standby'), {
    standby: true,
  })
  await until('master2 announcing', () => arps().includes(mac2))
  // At once, master1 takes it back: master2 releases mid-sequence.
  const n = arps().length
  t.same(await controlRequest(join(dir, 'master1.sock'), 'takeover'), {
    takeover: true,
  })
  await until('master1 announcing again', () => arps().slice(n).includes(mac1))
  // The announcer sends 5 per sequence, 200 ms apart: wait for all of
  // master1's, by which time master2's would have ended too.
  await until(
    'master1 announcing 5 times',
    () =>
      arps()
        .slice(n)
        .filter(m => m === mac1).length >= 5,
  )
  const tail = arps().slice(n)
  const first1 = tail.indexOf(mac1)
  t.same(
    tail.slice(first1).filter(m => m === mac2),
    [],
    `master2 was silent once master1 announced (wire order: ${tail
      .map(m => (m === mac1 ? 'm1' : 'm2'))
      .join(' ')})`,
  )
  const owners = []
  for (const m of ['master1', 'master2'] as const)
    if (
      (await lab.ip(ns[m], ['-4', 'addr', 'show', 'dev', 'eth0'])).includes(
        ` ${VIP}/`,
      )
    )
      owners.push(m)
  t.same(owners, ['master1'], 'one owner')
})
