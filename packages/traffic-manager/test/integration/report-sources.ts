// Issue 19.3: reports are taken only from the node's own address (or a
// master, this host, a report-from range), checked on real datagrams from
// other hosts: namespaces made here, a LAN between them, the real binary.
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { NetnsLab, needsRoot, waitFor } from '@has/test-support'
import { spawnDaemon } from '@has/test-support'
import { writeConf } from './helpers/lab.js'
import { formatReport } from '../../src/report-protocol.js'
import type { StatusSnapshot } from '../../src/traffic-manager.js'

t.test(
  'a report about a node from another host is dropped; from the node it is taken',
  async t => {
    if (!needsRoot(t)) return
    const lab = new NetnsLab('rs')
    t.teardown(() => lab.cleanup())
    const ns = await lab.lan([
      ['master', '10.203.0.1/24'],
      ['node', '10.203.0.11/24'],
      ['other', '10.203.0.99/24'],
      ['agent', '10.203.0.50/24'],
    ] as const)
    const dir = mkdtempSync(join(tmpdir(), 'tm-rs-'))
    const conf = writeConf(
      dir,
      [
        'master1 10.203.0.1',
        'traffic1 10.203.0.11',
        'traffic2 10.203.0.12',
        'report-from 10.203.0.48/29',
        'listen 10.203.0.1',
        'port 7070',
        'workers 0',
        'timeout 60000',
        '',
      ].join('\n'),
    )
    const control = join(dir, 'ctl.sock')
    const tm = spawnDaemon(
      'traffic-manager',
      ['-c', conf, '--control', control],
      { netns: ns.master },
    )
    t.teardown(() => tm.stop())
    await tm.waitLog(l => l.msg === 'started', 30_000)
    const warned = tm.logs.find(
      l => l.level === 40 && String(l.msg).startsWith('no report key'),
    )
    t.ok(warned, 'keyless on a LAN address: warned at start')
    let seq = 0
    const send = (from: string, node: string) =>
      lab.exec(from, process.execPath, [
        '-e',
        `const s=require('node:dgram').createSocket('udp4');s.send(${JSON.stringify(formatReport({ node, load: 5, state: 'up', sender: 'tc', epoch: 1, seq: ++seq }))},7070,'10.203.0.1',()=>s.close())`,
      ])
    const status = () =>
      controlRequest(control, 'status') as Promise<StatusSnapshot>
    const until = (pred: (s: StatusSnapshot) => boolean, what: string) =>
      waitFor(
        async () => {
          const s = await status()
          return pred(s) && s
        },
        { what, timeoutMs: 10_000, intervalMs: 25 },
      )
    await send(ns.other, '10.203.0.11')
    await until(
      s => s.reports.dropped.TM_ERR_REPORT_SOURCE === 1,
      'a source drop',
    )
    await send(ns.node, '10.203.0.11')
    let s = await until(
      s => s.nodes.find(n => n.address === '10.203.0.11')?.state === 'up',
      'node 1 up from its own address',
    )
    t.equal(
      s.reports.dropped.TM_ERR_REPORT_SOURCE,
      1,
      'only the stranger was dropped',
    )
    await send(ns.node, '10.203.0.12')
    await send(ns.agent, '10.203.0.12')
    s = await until(
      s => s.nodes.find(n => n.address === '10.203.0.12')?.state === 'up',
      'node 2 up from a report-from range',
    )
    t.equal(
      s.reports.dropped.TM_ERR_REPORT_SOURCE,
      2,
      'node 1 may not speak for node 2',
    )
    const logged = await tm.waitLog(
      l => l.level === 40 && String(l.msg).startsWith('load reports: dropped'),
    )
    t.equal(logged.source, '10.203.0.99', 'the drop warning names the source')
  },
)
