// The LAN arbiter (README "Split brain"): a long-lived libexec/hb-arpwatch
// watches the groups' IPv4 VIPs on their devices and reports every other
// MAC that answers or announces one ("claim"); heartbeatd asks it to probe
// while the peer's heartbeats are silent. A peer cut off only from the
// heartbeats still answers ARP for the VIP it holds, so it is not taken
// for dead. Without perl or CAP_NET_RAW there is no arbiter (logged) and
// heartbeatd decides on heartbeats alone, as before.

import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from '@has/daemon-kit'

export const ARPWATCH = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'libexec',
  'hb-arpwatch',
)

export type ArbiterLine =
  | { readonly type: 'claim'; readonly addr: string; readonly mac: string }
  | { readonly type: 'watching'; readonly addr: string }
  | { readonly type: 'error'; readonly addr: string; readonly reason: string }

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/

/** One line of hb-arpwatch's output (pure); undefined when it is not one. */
export function parseArbiterLine(line: string): ArbiterLine | undefined {
  const w = line.split(' ')
  if (
    w[0] === 'claim' &&
    w.length === 3 &&
    IPV4.test(w[1] ?? '') &&
    MAC.test(w[2] ?? '')
  )
    return { type: 'claim', addr: w[1] as string, mac: w[2] as string }
  if (w[0] === 'watching' && w.length === 2 && IPV4.test(w[1] ?? ''))
    return { type: 'watching', addr: w[1] as string }
  if (w[0] === 'error' && w.length >= 2)
    return { type: 'error', addr: w[1] as string, reason: w.slice(2).join(' ') }
  return undefined
}

export interface ArpArbiter {
  /** Sends one ARP probe for a watched address (fire and forget). */
  probe(addr: string): void
  close(): void
}

/** The device whose connected route covers an IPv4 address (once, at start). */
export function routeDevice(addr: string): Promise<string | undefined> {
  return new Promise(done =>
    execFile(
      'ip',
      ['-o', '-4', 'route', 'show', 'match', addr, 'scope', 'link'],
      { timeout: 5000 },
      (err, out) => done(err ? undefined : / dev (\S+)/.exec(out)?.[1]),
    ),
  )
}

export function startArpArbiter(opts: {
  /** Address -> device to watch. */
  readonly watch: ReadonlyMap<string, string>
  readonly onClaim: (addr: string, mac: string) => void
  readonly log: Logger
  /** For tests: another command. */
  readonly argv?: readonly string[]
}): ArpArbiter {
  const argv = opts.argv ?? ['perl', ARPWATCH]
  let child: ChildProcess | undefined
  let closed = false
  let warned = false
  const start = (): void => {
    const c = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    child = c
    let buf = ''
    c.stdout?.setEncoding('utf8')
    c.stdout?.on('data', (chunk: string) => {
      buf += chunk
      // Bounded: a line is short; anything longer is not ours.
      if (buf.length > 65536) buf = ''
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const l = parseArbiterLine(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
        if (l?.type === 'claim') opts.onClaim(l.addr, l.mac)
        else if (l?.type === 'error')
          opts.log.warn(
            { addr: l.addr, reason: l.reason },
            'LAN arbiter: cannot watch',
          )
      }
    })
    c.stdin?.on('error', () => {})
    c.on('error', e => {
      if (!warned)
        opts.log.warn(
          { err: e.message },
          'LAN arbiter not running; heartbeats alone decide',
        )
      warned = true
    })
    c.on('exit', (code, sig) => {
      if (child === c) child = undefined
      if (closed) return
      opts.log.warn(
        { code, signal: sig },
        'LAN arbiter exited; heartbeats alone decide',
      )
    })
    for (const [addr, dev] of opts.watch)
      c.stdin?.write(`watch ${addr} ${dev}\n`)
  }
  if (opts.watch.size) start()
  return {
    probe(addr) {
      child?.stdin?.write(`probe ${addr}\n`)
    },
    close() {
      closed = true
      const c = child
      child = undefined
      c?.stdin?.end()
      c?.kill('SIGTERM')
    },
  }
}
