// Parsing the three /proc files the load index needs. Parsers are pure
// (text in, numbers out) and the readers are a seam: the daemon reads a
// directory (/proc, or a fixture tree given by --procfs, as node_exporter's
// --path.procfs), tests inject strings.

import {
  closeSync,
  openSync,
  readFileSync,
  readSync,
  statfsSync,
} from 'node:fs'
import { join } from 'node:path'
import { tcError } from './errors.js'

/** statfs f_type of procfs. */
const PROC_SUPER_MAGIC = 0x9fa0

/**
 * One file read whole, synchronously: /proc is generated in memory, and an
 * asynchronous read costs four thread-pool round trips (open, stat, read,
 * close), each a wake-up of this process; on a paravirtualised guest those
 * wake-ups were most of a report's CPU. A file on a real procfs is kept
 * open and read from offset 0 (the kernel regenerates it for each read);
 * anything else (a --procfs fixture tree, whose files are replaced by
 * rename) is opened each time.
 */
function fileReader(path: string): () => string {
  let fd: number | undefined
  let held: boolean | undefined
  let buf = Buffer.allocUnsafe(16 * 1024)
  const whole = (f: number): string => {
    let n = 0
    for (;;) {
      if (n === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2)
        buf.copy(bigger, 0, 0, n)
        buf = bigger
      }
      const r = readSync(f, buf, n, buf.length - n, n)
      if (r === 0) return buf.toString('utf8', 0, n)
      n += r
    }
  }
  return () => {
    held ??= statfsSync(path).type === PROC_SUPER_MAGIC
    if (!held) return readFileSync(path, 'utf8')
    fd ??= openSync(path, 'r')
    try {
      return whole(fd)
    } catch (e) {
      // Reopened on the next read.
      closeSync(fd)
      fd = undefined
      throw e
    }
  }
}

export interface ProcfsReaders {
  cpuinfo(): Promise<string>
  meminfo(): Promise<string>
  stat(): Promise<string>
  /** Names the source in errors, e.g. `/proc`. */
  readonly where: string
}

/** Readers over a directory laid out like /proc. */
export function procfsReaders(dir: string): ProcfsReaders {
  const read = (name: string) => {
    const path = join(dir, name)
    let reader: (() => string) | undefined
    return async (): Promise<string> => {
      try {
        reader ??= fileReader(path)
        return reader()
      } catch (e) {
        reader = undefined
        throw tcError(
          'TC_ERR_PROCFS_READ',
          path,
          (e as NodeJS.ErrnoException).code ?? String(e),
        )
      }
    }
  }
  return {
    cpuinfo: read('cpuinfo'),
    meminfo: read('meminfo'),
    stat: read('stat'),
    where: dir,
  }
}

export interface CpuInfo {
  /** BogoMIPS of each CPU that reports it, in file order. */
  readonly bogomips: readonly number[]
  /** Number of `processor` entries (at least 1). */
  readonly cpus: number
}

/**
 * x86 prints `bogomips : 3358.72` per CPU; arm64 prints `BogoMIPS : 50.00`
 * per CPU; some arm32 kernels print one line at the end. Keys compare
 * case-insensitively.
 */
export function parseCpuinfo(text: string): CpuInfo {
  const bogomips: number[] = []
  let cpus = 0
  for (const line of text.split('\n')) {
    const i = line.indexOf(':')
    if (i < 0) continue
    const k = line.slice(0, i).trim().toLowerCase()
    const v = line.slice(i + 1).trim()
    if (k === 'processor' && /^\d+$/.test(v)) cpus++
    else if (k === 'bogomips') {
      const n = Number(v)
      if (Number.isFinite(n) && n > 0) bogomips.push(n)
    }
  }
  return { bogomips, cpus: Math.max(cpus, bogomips.length, 1) }
}

export interface MemInfo {
  readonly totalKB: number
  readonly freeKB: number
  /** MemAvailable, or MemFree + Buffers + Cached on kernels before 3.14. */
  readonly availableKB: number
}

/** Parses /proc/meminfo; undefined names the first missing field. */
export function parseMeminfo(text: string): MemInfo | { missing: string } {
  const f = new Map<string, number>()
  for (const m of text.matchAll(
    /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s*kB)?\s*$/gm,
  )) {
    f.set(m[1] as string, Number(m[2]))
  }
  const total = f.get('MemTotal')
  const free = f.get('MemFree')
  if (total === undefined) return { missing: 'MemTotal' }
  if (free === undefined) return { missing: 'MemFree' }
  const available =
    f.get('MemAvailable') ??
    free + (f.get('Buffers') ?? 0) + (f.get('Cached') ?? 0)
  return {
    totalKB: total,
    freeKB: free,
    availableKB: Math.min(available, total),
  }
}

export interface CpuTimes {
  /** idle + iowait ticks. */
  readonly idle: number
  /** user..steal ticks (guest time is already inside user and nice). */
  readonly total: number
}

/** The aggregate `cpu` line of /proc/stat. */
export function parseStat(text: string): CpuTimes | undefined {
  const m = /^cpu\s+([\d ]+)$/m.exec(text)
  if (!m) return undefined
  const n = (m[1] as string).trim().split(/\s+/).map(Number)
  if (n.length < 4) return undefined
  const [
    user = 0,
    nice = 0,
    system = 0,
    idle = 0,
    iowait = 0,
    irq = 0,
    softirq = 0,
    steal = 0,
  ] = n
  return {
    idle: idle + iowait,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  }
}
