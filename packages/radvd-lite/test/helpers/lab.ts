// A router namespace and a host namespace joined by a veth, as the kernel
// tests need them, plus a probe (fixtures/probe.mjs) in the host namespace
// that captures RAs and sends hand-made solicitations.

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { NetnsLab, waitFor } from '@has/test-support'
import { track, type Proc, type LogLine } from '@has/test-support'

export interface Lab {
  readonly lab: NetnsLab
  readonly r: string
  readonly h: string
  readonly rif: string
  readonly hif: string
}

export async function makeLab(tag: string): Promise<Lab> {
  const lab = new NetnsLab(tag)
  const r = await lab.add('r')
  const h = await lab.add('h')
  // No DAD delay, so link-local addresses are usable at once; the router
  // forwards, the host accepts RAs and autoconfigures.
  await lab.exec(r, 'sysctl', [
    '-qw',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv6.conf.all.forwarding=1',
  ])
  await lab.exec(h, 'sysctl', [
    '-qw',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv6.conf.default.accept_ra=2',
    'net.ipv6.conf.default.autoconf=1',
    'net.ipv6.conf.all.forwarding=0',
  ])
  const n = `${process.pid % 100000}${tag}`.slice(-10)
  const rif = `r${n}`
  const hif = `h${n}`
  await lab.veth({ ns: r, ifname: rif }, { ns: h, ifname: hif })
  return { lab, r, h, rif, hif }
}

export interface Probe extends Proc {
  send(hex: string, dst: string, hop: number): Promise<void>
  /** First packet logged at index >= `from` (take `logs.length` before acting). */
  packetAfter(
    from: number,
    pred?: (l: LogLine) => boolean,
    timeoutMs?: number,
  ): Promise<LogLine>
}

export async function startProbe(
  ns: string,
  ifname: string,
  types = '134',
): Promise<Probe> {
  const script = fileURLToPath(
    new URL('../fixtures/probe.mjs', import.meta.url),
  )
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, script, ifname, types],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  const p = track(child)
  await p.waitLog(l => l.msg === 'ready')
  let id = 0
  return Object.assign(p, {
    async send(hex: string, dst: string, hop: number) {
      const myId = ++id
      child.stdin.write(JSON.stringify({ hex, dst, hop, id: myId }) + '\n')
      const r = await p.waitLog(
        l => (l.msg === 'sent' && l.id === myId) || l.msg === 'error',
      )
      if (r.msg === 'error')
        throw new Error(`probe send failed: ${String(r.error)}`)
    },
    packetAfter(
      from: number,
      pred: (l: LogLine) => boolean = () => true,
      timeoutMs = 15_000,
    ) {
      return p.waitLog(
        l => l.msg === 'pkt' && p.logs.indexOf(l) >= from && pred(l),
        timeoutMs,
      )
    },
  })
}

/** Polls a condition on command output (kernel state has no event to await here). */
/** Bounded poll, named for its failure message (test-support waitFor). */
export function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  return waitFor(fn, { what, timeoutMs, intervalMs: 100 })
}
