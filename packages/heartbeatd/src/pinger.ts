// Ping nodes (ha.cf `ping`): one long-running iputils `ping` per address,
// parsed line by line. A node is reachable while its last reply is younger
// than deadping. ICMP needs a raw socket, which Node lacks; ping has the
// capability already.

import { spawn, type ChildProcess } from 'node:child_process'
import type { Logger } from '@has/daemon-kit'

export interface Pinger {
  /** Reachable ping nodes at `now` (monotonic ms). */
  reachable(now: number): number
  close(): void
}

const REPLY = /^\d+ bytes from /

export function startPinger(opts: {
  hosts: readonly string[]
  intervalMs: number
  deadpingMs: number
  now: () => number
  onReply: () => void
  logger: Logger
}): Pinger {
  const last = new Map<string, number>()
  const children = new Set<ChildProcess>()
  const timers = new Set<NodeJS.Timeout>()
  let closed = false
  const started = opts.now()
  const run = (host: string): void => {
    if (closed) return
    const child = spawn(
      'ping',
      ['-n', '-O', '-i', (opts.intervalMs / 1000).toFixed(3), '-W', '1', host],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children.add(child)
    let buf = ''
    child.stdout?.on('data', (c: Buffer) => {
      buf += c.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (REPLY.test(line)) {
          last.set(host, opts.now())
          opts.onReply()
        }
      }
    })
    child.stderr?.resume()
    child.on('error', err =>
      opts.logger.error({ err, host }, 'cannot run ping'),
    )
    child.on('exit', code => {
      children.delete(child)
      if (closed) return
      opts.logger.warn({ host, code }, 'ping exited; restarting in 1 s')
      const t = setTimeout(() => (timers.delete(t), run(host)), 1000)
      timers.add(t)
    })
  }
  for (const h of opts.hosts) run(h)
  return {
    reachable(now) {
      // Grace at start: nobody is unreachable before deadping has passed.
      if (now - started < opts.deadpingMs) return opts.hosts.length
      return opts.hosts.filter(
        h => now - (last.get(h) ?? -Infinity) <= opts.deadpingMs,
      ).length
    },
    close() {
      closed = true
      for (const t of timers) clearTimeout(t)
      for (const c of children) c.kill('SIGTERM')
    },
  }
}
