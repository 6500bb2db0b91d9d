// Shared by the failover tests: erd against the real kernel, in namespaces this test makes (root only):
// a TCP stream from the node to the server survives the loss of the
// primary's link, returns to the primary after updelay, and a primary
// flapping faster than updelay never moves the routes back.

import type { Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { spawnDaemon, type LogLine, type Proc } from '@has/test-support'
import { buildLab, nsNode, type Lab } from './lab.js'

export const UPDELAY = 1500
export const HOLD = 3000
// Generous: the CI host may be loaded; these bound a hang, not a speed.
export const WAIT = 60_000
export const isSwitch = (to: string) => (l: LogLine) =>
  l.event === 'switch' && l.to === to
/** The n-th (1-based) log line matching pred, waiting for it. */
export async function nth(
  p: Proc,
  pred: (l: LogLine) => boolean,
  n: number,
  timeoutMs = WAIT,
): Promise<LogLine> {
  await p.waitLog(() => p.logs.filter(pred).length >= n, timeoutMs)
  return p.logs.filter(pred)[n - 1] as LogLine
}

export async function setUp(t: Test, tag: string, same: boolean) {
  const lab = await buildLab(tag, same)
  const procs: Proc[] = []
  t.teardown(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL')
    await lab.lab.cleanup()
  })
  const dir = mkdtempSync(join(tmpdir(), 'erd-'))
  const conf = join(dir, 'erd.conf')
  writeFileSync(
    conf,
    [
      `updelay ${UPDELAY}ms`,
      'flap_limit 3',
      `hold_time ${HOLD}ms`,
      'announce_count 2',
      'announce_interval 100ms',
      '',
    ].join('\n'),
  )
  const sink = nsNode(lab.srv, 'tcp-sink.mjs', ['0.0.0.0', '7070'])
  procs.push(sink)
  await sink.waitLog(l => l.event === 'listening', WAIT)
  const erd = spawnDaemon(
    'erd',
    ['eth0', 'eth1', '-c', conf, '--control', join(dir, 'erd.sock')],
    { netns: lab.node },
  )
  procs.push(erd)
  await erd.waitLog(l => l.event === 'ready', WAIT)
  const source = nsNode(lab.node, 'tcp-source.mjs', [lab.server4, '7070'])
  procs.push(source)
  await source.waitLog(l => l.event === 'connected', WAIT)
  return { lab, erd, sink, source, dir }
}

/** Resolves once the server has received `more` bytes beyond now. */
export async function flows(sink: Proc, more = 32 * 1024): Promise<void> {
  const last = [...sink.logs].reverse().find(l => l.event === 'bytes')
  const from = Number(last?.total ?? 0)
  await sink.waitLog(
    l => l.event === 'bytes' && Number(l.total) >= from + more,
    WAIT,
  )
}

export async function bringDown(lab: Lab): Promise<void> {
  await lab.lab.ip(lab.lanA, ['link', 'set', 'p0', 'down'])
}
export async function bringUp(lab: Lab): Promise<void> {
  await lab.lab.ip(lab.lanA, ['link', 'set', 'p0', 'up'])
}
