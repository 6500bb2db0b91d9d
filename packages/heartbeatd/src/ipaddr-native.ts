// The shipped IPaddr agent, run inside heartbeatd instead of as a script:
// on a takeover the address is added through a long-lived `ip -batch -`
// and announced by a long-lived announcer (libexec/hb-announce), both
// started with heartbeatd, so the takeover path forks nothing. Same
// arguments, environment (HA_ARP_COUNT, HA_ARP_INTERVAL_MS) and result as
// resource.d/IPaddr; `status`, and anything the helpers cannot do, goes to
// the script.

import { execFile } from 'node:child_process'
import { isIP } from 'node:net'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLineHelper, type LineHelper } from './line-helper.js'
import type { Resource } from './haresources.js'
import type { AgentOp, AgentResult } from './resources.js'

export const ANNOUNCER = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'libexec',
  'hb-announce',
)

export interface VipSpec {
  readonly addr: string
  readonly prefix: number
  readonly dev: string | undefined
  readonly v6: boolean
}

const DEV = /^[A-Za-z0-9_.:@-]{1,15}$/

/** `ADDRESS[/PREFIX[/DEVICE]]`, as the script reads it; undefined if not. */
export function parseVipSpec(spec: string): VipSpec | undefined {
  const [addr = '', prefixText, dev, ...more] = spec.split('/')
  const fam = isIP(addr)
  if (!fam || more.length) return undefined
  const max = fam === 6 ? 128 : 32
  const prefix =
    prefixText === undefined || prefixText === '' ? max : Number(prefixText)
  if (!/^\d{0,3}$/.test(prefixText ?? '') || !(prefix >= 0 && prefix <= max))
    return undefined
  if (dev !== undefined && dev !== '' && !DEV.test(dev)) return undefined
  return { addr, prefix, dev: dev || undefined, v6: fam === 6 }
}

// ip's own words for "already there" and "not there": both are success
// for an idempotent agent.
const PRESENT = /already assigned|File exists/
const ABSENT = /Address not found|Cannot assign requested address/
const LO = /^\d+:\s+lo[:@]/

export interface NativeIpaddr {
  /**
   * Runs `op` natively; resolves undefined when it cannot (not an address,
   * `status`, a helper that cannot run): the caller runs the script.
   */
  run(r: Resource, op: AgentOp): Promise<AgentResult | undefined>
  /** Starts both helpers now (heartbeatd start, off any takeover path). */
  warm(): void
  close(): void
}

export function createNativeIpaddr(opts: {
  env: NodeJS.ProcessEnv
  /** For tests: other commands for the two helpers. */
  ipArgv?: readonly string[]
  announcerArgv?: readonly string[]
}): NativeIpaddr {
  const ipArgv = opts.ipArgv ?? ['sh', '-c', 'exec ip -o -force -batch - 2>&1']
  const annArgv = opts.announcerArgv ?? ['perl', ANNOUNCER]
  const ip: LineHelper = createLineHelper(ipArgv[0] as string, ipArgv.slice(1))
  const ann: LineHelper = createLineHelper(
    annArgv[0] as string,
    annArgv.slice(1),
  )
  const devs = new Map<string, string>()
  const env = { ...process.env, ...opts.env }
  const count = Number(env.HA_ARP_COUNT ?? 5)
  const gap = Number(env.HA_ARP_INTERVAL_MS ?? 200)

  // ip prints nothing on success: the `link show dev lo` after each
  // command marks the end of its answer (errors come before it, 2>&1).
  const ipDo = async (cmd: string): Promise<string> => {
    const lines = await ip.ask(`${cmd}\nlink show dev lo\n`, l =>
      LO.test(l.at(-1) ?? ''),
    )
    return lines
      .slice(0, -1)
      .filter(l => !l.startsWith('Command failed'))
      .join('; ')
  }
  const annDo = async (req: string, addr: string): Promise<string> => {
    const lines = await ann.ask(`${req}\n`, l => {
      const w = (l.at(-1) ?? '').split(' ')
      return w[1] === addr || w[1] === '-'
    })
    return lines.at(-1) as string
  }
  // The device whose connected route covers the address, learned once
  // (the first use is heartbeatd's stop of every group at start).
  const deviceOf = (v: VipSpec): Promise<string | undefined> => {
    if (v.dev) return Promise.resolve(v.dev)
    const known = devs.get(v.addr)
    if (known) return Promise.resolve(known)
    return new Promise(done =>
      execFile(
        'ip',
        [
          '-o',
          v.v6 ? '-6' : '-4',
          'route',
          'show',
          'match',
          v.addr,
          'scope',
          'link',
        ],
        { timeout: 5000 },
        (err, out) => {
          const dev = err ? undefined : / dev (\S+)/.exec(out)?.[1]
          if (dev) devs.set(v.addr, dev)
          done(dev)
        },
      ),
    )
  }

  const start = async (v: VipSpec, t0: number): Promise<AgentResult> => {
    const dev = await deviceOf(v)
    if (!dev)
      return fail(
        t0,
        `IPaddr: no interface for ${v.addr}; give ADDRESS/PREFIX/DEVICE`,
      )
    const err = await ipDo(
      `address add ${v.addr}/${v.prefix} dev ${dev}${v.v6 ? ' nodad' : ''}`,
    )
    if (err && !PRESENT.test(err)) return fail(t0, err)
    const added = performance.now()
    const a = await annDo(`start ${v.addr} ${dev} ${count} ${gap}`, v.addr)
    const announced = performance.now()
    // The address is up: an announcer failure is logged, not a failed start
    // (as the script, whose announcer runs detached).
    return {
      ok: true,
      code: 0,
      ms: Math.round(announced - t0),
      output: a.startsWith('started ') ? '' : `announce: ${a}`,
      marks: { added, announced },
    }
  }
  const stop = async (v: VipSpec, t0: number): Promise<AgentResult> => {
    const dev = await deviceOf(v)
    // Every announcement ends before the address goes.
    await annDo(`stop ${v.addr}`, v.addr)
    if (!dev) return fail(t0, `IPaddr: no interface for ${v.addr}`)
    const err = await ipDo(`address del ${v.addr}/${v.prefix} dev ${dev}`)
    if (err && !ABSENT.test(err)) return fail(t0, err)
    return {
      ok: true,
      code: 0,
      ms: Math.round(performance.now() - t0),
      output: '',
    }
  }

  return {
    run(r, op) {
      const v =
        r.args.length === 1 ? parseVipSpec(r.args[0] as string) : undefined
      if (!v || op === 'status') return Promise.resolve(undefined)
      const t0 = performance.now()
      const p = op === 'start' ? start(v, t0) : stop(v, t0)
      // A helper that died (or never ran: no perl) is not the address's
      // fault: the script does the operation instead.
      return p.catch(() => undefined)
    },
    warm() {
      ip.warm()
      ann.warm()
    },
    close() {
      ip.close()
      ann.close()
    },
  }
}

function fail(t0: number, output: string): AgentResult {
  return { ok: false, code: 1, ms: Math.round(performance.now() - t0), output }
}
