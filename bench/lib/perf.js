// perf(1) helpers for the kernel-path benches (dr.js, bgp.js): record
// kernel threads while a load runs, list the functions by share of the
// samples, and pick out the guest's per-wake-up exit.
import { spawn, execFileSync } from 'node:child_process'

/** Starts `perf record` on these thread ids; stop() ends it and waits. */
export function recordThreads(tids, out) {
  const rec = spawn(
    'perf',
    ['record', '-q', '-e', 'cpu-clock', '-g', '-t', tids.join(','), '-o', out],
    { stdio: 'ignore' },
  )
  return {
    stop: () =>
      new Promise(resolve => {
        if (rec.exitCode !== null) return resolve()
        rec.once('exit', resolve)
        rec.kill('SIGINT')
      }),
  }
}

/** perf report of a profile: functions by inclusive share of the samples (>= 4 %). */
export function topSymbols(file) {
  try {
    const out = execFileSync(
      'perf',
      [
        'report',
        '-i',
        file,
        '--stdio',
        '--children',
        '--sort',
        'sym',
        '-g',
        'none',
        '--percent-limit',
        '4',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
    return out
      .split('\n')
      .filter(l => /^\s+[\d.]+%/.test(l))
      .map(l => l.trim().replace(/\s+/g, ' '))
      .slice(0, 24)
  } catch (e) {
    return [`perf report failed: ${e.message.split('\n')[0]}`]
  }
}

// The share of samples (self) spent in the guest's interrupt re-enable
// hook: on a paravirtualised guest (this machine's kernel runs under PVM)
// re-enabling interrupts after a wake-up exits to the hypervisor, a cost
// per wake-up whatever work the packet needs.
const GUEST_IRQ = /^(pvm|xen|kvm|hv|pv_native)_\w*irq_enable$/

/** From topSymbols' lines: the self share (0..1) of the guest's interrupt re-enable. */
export function guestIrqShare(lines) {
  return lines.reduce((sum, l) => {
    const m = /^[\d.]+% ([\d.]+)% \[k\] (\S+)$/.exec(l)
    return m && GUEST_IRQ.test(m[2]) ? sum + Number(m[1]) / 100 : sum
  }, 0)
}
