// Chaos finding D: after the primary lost carrier, a silent node stayed
// unreachable from its peers until erd's first announcement left the new
// port, and that announcement waited for the route batch and then for
// arping and perl to start: up to a second on a loaded host, and streams
// through the masters timed out. Now the first round goes out at the
// switch, through the announcer erd started with itself.
//
// The seam: a loaded host's slow process start is made deterministic by an
// `arping` on PATH that waits 10 s before running the real one. Before the
// fix the server's IPv4 entry moved only after that; now within the bound.
// Namespaces are this test's own; the node sends nothing but erd's frames.
import t from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { needsRoot } from '@has/test-support'
import { spawnDaemon } from '@has/test-support'
import {
  buildLab,
  macOf,
  neigh6,
  pollUntil,
  type NeighEntry,
} from '../helpers/lab.js'
import { bringDown, isSwitch, WAIT } from '../helpers/scenario.js'

const SLOW_START_S = 10
// From the switch log line: far below the slow start, far above a sane
// host's few milliseconds (the CI host may be loaded).
const BOUND_MS = 5000

async function neigh4(
  ns: (a: string[]) => Promise<string>,
  addr: string,
): Promise<NeighEntry | undefined> {
  const e = (
    JSON.parse(await ns(['-j', 'neigh', 'show', addr])) as {
      lladdr?: string
      state?: string[]
    }[]
  )[0]
  return (
    e && { ...(e.lladdr ? { lladdr: e.lladdr } : {}), state: e.state ?? [] }
  )
}

t.test(
  'a silent node: peers point at the new port within a bound, without starting a process',
  async t => {
    if (!needsRoot(t)) return
    const lab = await buildLab('erda', false)
    const dir = mkdtempSync(join(tmpdir(), 'erd-'))
    const shim = join(dir, 'bin')
    writeFileSync(
      join(dir, 'erd.conf'),
      ['updelay 1500ms', 'announce_count 1', ''].join('\n'),
    )
    mkdirSync(shim)
    writeFileSync(
      join(shim, 'arping'),
      `#!/bin/sh\nsleep ${SLOW_START_S}\nexec /usr/sbin/arping "$@"\n`,
    )
    chmodSync(join(shim, 'arping'), 0o755)
    const env = {
      ...process.env,
      PATH: `${shim}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    }
    const erd = spawnDaemon(
      'erd',
      [
        'eth0',
        'eth1',
        '-c',
        join(dir, 'erd.conf'),
        '--control',
        join(dir, 'erd.sock'),
      ],
      { netns: lab.node, env },
    )
    t.teardown(async () => {
      await erd.stop('SIGKILL')
      await lab.lab.cleanup()
    })
    await erd.waitLog(l => l.event === 'ready', WAIT)
    const mac0 = await macOf(lab, lab.node, 'eth0')
    const mac1 = await macOf(lab, lab.node, 'eth1')
    t.not(mac0, mac1)

    // The server resolves both node addresses behind eth0 the ordinary way.
    await lab.lab.exec(lab.srv, 'ping', [
      '-n',
      '-q',
      '-c',
      '1',
      '-w',
      '20',
      lab.ip4[0],
    ])
    await lab.lab.exec(lab.srv, 'ping', [
      '-6',
      '-n',
      '-q',
      '-c',
      '1',
      '-w',
      '20',
      lab.ip6[0],
    ])
    const srvIp = (a: string[]) => lab.lab.ip(lab.srv, a)
    t.equal(
      (await neigh4(srvIp, lab.ip4[0]))?.lladdr,
      mac0,
      'before: IPv4 entry points at eth0',
    )
    t.equal(
      (await neigh6(lab, lab.srv, lab.ip6[0]))?.lladdr,
      mac0,
      'before: IPv6 entry points at eth0',
    )
    // Past the kernel's locktime (1 s), so an ARP may replace the entry.
    await new Promise(r => setTimeout(r, 1100))

    await bringDown(lab)
    const sw = await erd.waitLog(isSwitch('secondary'), WAIT)
    const from = Date.parse(String(sw.time))
    const at = (mac: string) => (e: NeighEntry | undefined) => e?.lladdr === mac
    const v4 = await pollUntil(
      () => neigh4(srvIp, lab.ip4[0]),
      at(mac1),
      BOUND_MS + 2000,
      20,
    )
    const v4ms = Date.now() - from
    t.equal(v4?.lladdr, mac1, 'IPv4 entry points at eth1 (gratuitous ARP)')
    t.ok(
      v4ms < BOUND_MS,
      `IPv4 entry moved ${v4ms} ms after the switch (bound ${BOUND_MS} ms; a slow arping start takes ${SLOW_START_S} s)`,
    )
    const v6 = await pollUntil(
      () => neigh6(lab, lab.srv, lab.ip6[0]),
      at(mac1),
      BOUND_MS,
      20,
    )
    t.equal(v6?.lladdr, mac1, 'IPv6 entry points at eth1 (unsolicited NA)')

    const announced = await erd.waitLog(
      l => l.event === 'announced' && l.dev === 'eth1',
      WAIT,
    )
    t.equal(
      announced.via,
      'announcer',
      'sent by the long-lived announcer, no process started',
    )
    t.equal(
      announced.sent,
      4,
      'one frame per address, IPv4 and IPv6, of both ports',
    )
    // The path works for a peer that starts talking now.
    await lab.lab.exec(lab.srv, 'ping', [
      '-n',
      '-q',
      '-c',
      '1',
      '-w',
      '5',
      lab.ip4[0],
    ])
    t.pass('server reaches the node through eth1')
    t.equal(await erd.stop('SIGTERM'), 0)
  },
)
