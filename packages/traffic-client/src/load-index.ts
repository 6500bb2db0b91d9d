// The load index a traffic node reports: larger means more spare capacity,
// 0 means "send me nothing new". Two formulas (README "Load index"):
//
//   thesis  BogoMIPS(first CPU) x MemFree MB / RAM_x        (thesis 3.22.6)
//   live    capacity x CPU idle share x memory factor       (default)
//
// The thesis formula moves only with free memory: a node at 100 % CPU with
// free RAM keeps a high index, so schedulers keep feeding it. The live one
// follows CPU idle time from /proc/stat deltas, keeps capacity for
// heterogeneous nodes (BogoMIPS summed over cores), and lets memory pull the
// index down only when MemAvailable runs short (below mem_headroom), because
// extra free RAM does not make a web node faster but swapping makes it slow.
// Formulas are pure; LoadSampler owns the readers and the previous sample.

import {
  parseCpuinfo,
  parseMeminfo,
  parseStat,
  type CpuInfo,
  type CpuTimes,
  type MemInfo,
  type ProcfsReaders,
} from './procfs.js'
import { tcError } from './errors.js'
import type { Formula } from './config.js'

/** Thesis 3.22.6: CPU_a x RAM_a / RAM_x (MB), times scale. */
export function thesisLoad(
  bogomips: number,
  freeMB: number,
  ramMB: number,
  scale = 1,
): number {
  return (bogomips * freeMB * scale) / ramMB
}

/** Idle share over the interval; since boot when the interval saw no ticks or the counters went back. */
export function idleShare(cur: CpuTimes, prev?: CpuTimes): number {
  const dt = prev ? cur.total - prev.total : 0
  const di = prev ? cur.idle - prev.idle : 0
  if (prev && dt > 0 && di >= 0 && di <= dt) return di / dt
  return cur.total > 0 ? clamp01(cur.idle / cur.total) : 0
}

/** 1 while MemAvailable >= headroom x MemTotal, then linear down to 0. */
export function memFactor(mem: MemInfo, headroom: number): number {
  if (headroom <= 0 || mem.totalKB <= 0) return 1
  return clamp01(mem.availableKB / mem.totalKB / headroom)
}

export function liveLoad(
  capacity: number,
  idle: number,
  memF: number,
  scale = 1,
): number {
  return capacity * clamp01(idle) * clamp01(memF) * scale
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x
}

export interface LoadOptions {
  readonly formula: Formula
  readonly ramMB?: number
  readonly capacity: number | 'auto'
  readonly scale: number
  readonly memHeadroom: number
}

export interface LoadSample {
  /** Rounded load index as reported. */
  readonly load: number
  /** Share of this node's own maximum, 0..100 (agent-check weight). */
  readonly percent: number
  readonly formula: Formula
  readonly bogomips: number
  readonly capacity: number
  readonly idleShare: number
  readonly memFreeMB: number
  readonly memAvailableMB: number
  readonly memTotalMB: number
}

export class LoadSampler {
  readonly #readers: ProcfsReaders
  #opts: LoadOptions
  #cpu?: CpuInfo
  #prev?: CpuTimes

  constructor(readers: ProcfsReaders, opts: LoadOptions) {
    this.#readers = readers
    this.#opts = opts
  }

  /** Reads cpuinfo once (BogoMIPS is static, thesis 3.24.2) and checks it suits the formula. */
  async init(): Promise<void> {
    const cpu = parseCpuinfo(await this.#readers.cpuinfo())
    this.#check(cpu, this.#opts)
    this.#cpu = cpu
  }

  /** Throws if the cpuinfo read at init cannot serve these options. */
  check(opts: LoadOptions): void {
    if (this.#cpu) this.#check(this.#cpu, opts)
  }

  /** Swaps options (reload); throws, keeping the old ones, if cpuinfo cannot serve them. */
  setOptions(opts: LoadOptions): void {
    this.check(opts)
    this.#opts = opts
  }

  #check(cpu: CpuInfo, o: LoadOptions): void {
    const needs = o.formula === 'thesis' || o.capacity === 'auto'
    if (needs && cpu.bogomips.length === 0) {
      throw tcError('TC_ERR_PROCFS_CPUINFO', `${this.#readers.where}/cpuinfo`)
    }
  }

  async sample(): Promise<LoadSample> {
    if (!this.#cpu) await this.init()
    const cpu = this.#cpu as CpuInfo
    const o = this.#opts
    const [memText, statText] = await Promise.all([
      this.#readers.meminfo(),
      this.#readers.stat(),
    ])
    const mem = parseMeminfo(memText)
    if ('missing' in mem)
      throw tcError(
        'TC_ERR_PROCFS_MEMINFO',
        `${this.#readers.where}/meminfo`,
        mem.missing,
      )
    const times = parseStat(statText)
    if (!times)
      throw tcError('TC_ERR_PROCFS_STAT', `${this.#readers.where}/stat`)
    const idle = idleShare(times, this.#prev)
    this.#prev = times
    const first = cpu.bogomips[0] ?? 0
    const sum = cpu.bogomips.reduce((a, b) => a + b, 0)
    const capacity = o.capacity === 'auto' ? sum : o.capacity
    const mb = (kb: number): number => kb / 1024
    let raw: number
    let percent: number
    if (o.formula === 'thesis') {
      raw = thesisLoad(first, mb(mem.freeKB), o.ramMB ?? 1, o.scale)
      percent = mem.totalKB > 0 ? (100 * mem.freeKB) / mem.totalKB : 0
    } else {
      const mf = memFactor(mem, o.memHeadroom)
      raw = liveLoad(capacity, idle, mf, o.scale)
      percent = 100 * clamp01(idle) * mf
    }
    return {
      load: Math.max(0, Math.round(raw)),
      percent: Math.round(percent),
      formula: o.formula,
      bogomips: o.formula === 'thesis' ? first : sum,
      capacity,
      idleShare: Math.round(idle * 1000) / 1000,
      memFreeMB: Math.round(mb(mem.freeKB)),
      memAvailableMB: Math.round(mb(mem.availableKB)),
      memTotalMB: Math.round(mb(mem.totalKB)),
    }
  }
}
