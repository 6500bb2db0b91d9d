// The same radvd.conf through radvd-lite and through the real radvd
// (Debian's), each in the router namespace in turn: the solicited RA and
// the first final RA each daemon sends, captured by the probe in the host
// namespace, must match field by field and byte for byte (checksum aside:
// it covers the destination address, which may differ).

import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import {
  needsRoot,
  spawnDaemon,
  track,
  type LogLine,
  type Proc,
} from '@has/test-support'
import { parseRa } from '../../src/ra.js'
import { makeLab, startProbe, type Probe } from '../helpers/lab.js'
import { FULL, DEFAULTS, FRACTIONAL, LATE } from '../fixtures/configs.js'

function startRadvd(ns: string, conf: string, dir: string): Proc {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'radvd',
      '-n',
      '-C',
      conf,
      '-p',
      join(dir, 'radvd.pid'),
      '-m',
      'stderr',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  return track(child)
}

/** Solicited RA, then the first final RA after SIGTERM, as hex. */
async function capture(
  probe: Probe,
  start: () => Proc,
): Promise<{ solicited: Buffer; final: Buffer }> {
  const isRa = (l: LogLine): boolean => String(l.hex).startsWith('86')
  let mark = probe.logs.length
  const d = start()
  try {
    // Both daemons send an unsolicited RA at start: that says "ready".
    await probe.packetAfter(mark, isRa)
    mark = probe.logs.length
    await probe.send('8500000000000000', 'ff02::2', 255)
    // Both answer by unicast (AdvRASolicitedUnicast): skip multicast ones.
    const sol = await probe.packetAfter(
      mark,
      l => isRa(l) && l.dst !== 'ff02::1',
    )
    mark = probe.logs.length
    await d.stop('SIGTERM')
    const fin = await probe.packetAfter(
      mark,
      l => isRa(l) && String(l.hex).slice(12, 16) === '0000',
    )
    return {
      solicited: Buffer.from(String(sol.hex), 'hex'),
      final: Buffer.from(String(fin.hex), 'hex'),
    }
  } finally {
    await d.stop('SIGKILL')
  }
}

const noChecksum = (b: Buffer): string => {
  const c = Buffer.from(b)
  c.writeUInt16BE(0, 2)
  return c.toString('hex')
}

for (const [name, make] of [
  ['full', FULL],
  ['defaults', DEFAULTS],
  ['fractional', FRACTIONAL],
  ['late', LATE],
] as const) {
  t.test(`RA bytes match radvd (${name} config)`, async t => {
    if (!needsRoot(t)) return
    const { lab, r, h, rif, hif } = await makeLab(name.slice(0, 2) + 'c')
    t.teardown(() => lab.cleanup())
    const dir = t.testdir({ 'radvd.conf': make(rif) })
    const conf = join(dir, 'radvd.conf')
    writeFileSync(conf, make(rif), { mode: 0o644 })
    const probe = await startProbe(h, hif)
    t.teardown(() => probe.stop('SIGKILL'))

    const lite = await capture(probe, () =>
      spawnDaemon(
        'radvd-lite',
        [
          '-C',
          conf,
          '--control',
          join(mkdtempSync(join(tmpdir(), 'ra-')), 'c.sock'),
        ],
        { netns: r },
      ),
    )
    const real = await capture(probe, () => startRadvd(r, conf, dir))

    for (const kind of ['solicited', 'final'] as const) {
      const a = parseRa(lite[kind])
      const b = parseRa(real[kind])
      const { checksum: _a, ...fa } = a
      const { checksum: _b, ...fb } = b
      t.same(fa, fb, `${kind} RA: every field equal`)
      t.comment(`${kind}: ${JSON.stringify(fb)}`)
      t.equal(
        noChecksum(lite[kind]),
        noChecksum(real[kind]),
        `${kind} RA: same bytes`,
      )
    }
  })
}
