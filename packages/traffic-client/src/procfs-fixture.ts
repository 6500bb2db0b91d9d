// Writes a directory that looks like /proc to traffic-client: cpuinfo,
// meminfo and stat with chosen numbers. Tests, the local demo and the
// benchmarks give each simulated node its own tree (--procfs) so nodes on
// one machine report different capacities. Files are replaced atomically
// (write then rename) so a running client never reads half a file.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface ProcfsFixture {
  /** BogoMIPS per CPU. */
  readonly bogomips: number
  readonly cpus: number
  readonly memTotalMB: number
  /** MemFree and MemAvailable, MB. */
  readonly memFreeMB: number
  /** Share of CPU time idle, 0..1, as seen in /proc/stat. */
  readonly idleShare: number
}

/** Ticks per CPU in the fixture's stat; fixed so rewriting keeps totals equal. */
const TICKS = 1_000_000

export function writeProcfsFixture(dir: string, f: ProcfsFixture): string {
  if (
    !(f.cpus >= 1) ||
    !(f.idleShare >= 0 && f.idleShare <= 1) ||
    !(f.memFreeMB <= f.memTotalMB)
  ) {
    throw new RangeError(
      'writeProcfsFixture: need cpus >= 1, 0 <= idleShare <= 1, memFreeMB <= memTotalMB',
    )
  }
  mkdirSync(dir, { recursive: true })
  const cpuinfo = Array.from({ length: f.cpus }, (_, i) =>
    [
      `processor\t: ${i}`,
      'vendor_id\t: GenuineIntel',
      'model name\t: has fixture CPU',
      `bogomips\t: ${f.bogomips.toFixed(2)}`,
      '',
    ].join('\n'),
  ).join('\n')
  const kb = (mb: number): string =>
    `${String(Math.round(mb * 1024)).padStart(8)} kB`
  const meminfo = [
    `MemTotal:       ${kb(f.memTotalMB)}`,
    `MemFree:        ${kb(f.memFreeMB)}`,
    `MemAvailable:   ${kb(f.memFreeMB)}`,
    `Buffers:        ${kb(0)}`,
    `Cached:         ${kb(0)}`,
    '',
  ].join('\n')
  // The total never changes between rewrites, so a client's delta is 0
  // and it falls back to the since-boot share: exactly idleShare.
  const idle = Math.round(TICKS * f.cpus * f.idleShare)
  const busy = TICKS * f.cpus - idle
  const stat = [
    `cpu  ${busy} 0 0 ${idle} 0 0 0 0 0 0`,
    ...Array.from({ length: f.cpus }, (_, i) => {
      const ci = Math.round(TICKS * f.idleShare)
      return `cpu${i} ${TICKS - ci} 0 0 ${ci} 0 0 0 0 0 0`
    }),
    '',
  ].join('\n')
  for (const [name, text] of [
    ['cpuinfo', cpuinfo],
    ['meminfo', meminfo],
    ['stat', stat],
  ] as const) {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`)
    writeFileSync(tmp, text)
    renameSync(tmp, join(dir, name))
  }
  return dir
}
