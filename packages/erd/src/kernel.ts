// The kernel adapter: every `ip` command, sysfs read and helper process
// erd runs. The daemon talks to the Kernel interface only, so its logic is
// tested with a fake; this file is exercised by the namespace tests.

import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { access, constants, readFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { LineSplitter } from '@has/daemon-kit'
import { erdError } from './errors.js'
import { SysfsReader } from './sysfs.js'
import { Announcer, type AnnounceResult } from './announcer.js'
import {
  parseRoutes,
  formatOp,
  type Family,
  type Route,
  type RouteOp,
} from './routes.js'
import type { Neighbour } from './neighbours.js'
import {
  parseAddresses,
  parseMonitorLine,
  parseNeighbours,
  hasNetAdmin,
  type Address,
  type MonitorEvent,
} from './netlink-text.js'

export interface ApplyResult {
  readonly failed: number
  readonly errors: string
}

export interface Watcher {
  close(): void
}

export interface Kernel {
  /** true/false: usable (carrier and operstate up); undefined: no such interface. */
  carrier(ifname: string): Promise<boolean | undefined>
  /**
   * The carrier bit alone, synchronously (false also for a missing
   * interface): the cheap sample of the active link every poll_interval.
   */
  carrierBit(ifname: string): boolean
  speed(ifname: string): Promise<number>
  routes(
    families: readonly Family[],
  ): Promise<{ routes: Route[]; skipped: string[] }>
  /** Route changes, after `pre` (raw `ip -batch` lines, e.g. neighbours). */
  apply(ops: readonly RouteOp[], pre?: readonly string[]): Promise<ApplyResult>
  addresses(ifname: string): Promise<Address[]>
  neighbours(ifname: string): Promise<Neighbour[]>
  /** Link and neighbour events; restarted by the caller through onExit. */
  watch(
    onEvent: (e: MonitorEvent) => void,
    onExit: (why: string) => void,
  ): Watcher
  /** Runs helper commands (announcements); resolves once all have ended. */
  run(cmds: readonly (readonly string[])[]): Promise<{ failed: string[] }>
  /**
   * Announces `addresses` out of `dev` through the long-lived helper (no
   * process start on the switch path). Absent or failing: erd falls back
   * to `run` with arping / erd-na / ndisc6.
   */
  announce?(dev: string, addresses: readonly string[]): Promise<AnnounceResult>
  canAdminNetwork(): Promise<boolean>
  /** True when `name` is an executable file on PATH (helper programs). */
  hasProgram(name: string): Promise<boolean>
}

function ip(
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'ip',
      [...args],
      { maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const e = err as
          (NodeJS.ErrnoException & { code?: string | number }) | null
        if (e && typeof e.code === 'string') {
          reject(erdError('ERD_ERR_IP_TOOL', e.message, e))
          return
        }
        resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr })
      },
    )
    if (input !== undefined) child.stdin?.end(input)
  })
}

async function ipJson(args: readonly string[]): Promise<string> {
  const r = await ip(['-j', ...args])
  if (r.code !== 0)
    throw erdError('ERD_ERR_IP_OUTPUT', args.join(' '), r.stderr.trim())
  return r.stdout
}

export function systemKernel(): Kernel & { close(): void } {
  const batch = new IpBatch()
  const announcer = new Announcer()
  const sysfs = new SysfsReader()
  return {
    close: () => {
      batch.close()
      announcer.close()
      sysfs.forget()
    },
    announce: (dev, addresses) => announcer.announce(dev, addresses),
    async carrier(ifname) {
      const carrier = sysfs.read(ifname, 'carrier')
      if (carrier === undefined) return undefined // no such interface
      // Carrier alone is not enough on the way up: the kernel activates the
      // device's queue later (linkwatch, up to a second), and operstate
      // turns "up" only then. Traffic sent before that is dropped.
      if (carrier !== '1') return false
      const oper = sysfs.read(ifname, 'operstate')
      return oper === 'up' || oper === 'unknown'
    },
    carrierBit(ifname) {
      return sysfs.read(ifname, 'carrier') === '1'
    },
    async speed(ifname) {
      const n = Number(sysfs.read(ifname, 'speed'))
      return Number.isFinite(n) ? n : -1
    },
    async routes(families) {
      const out: Route[] = []
      const skipped: string[] = []
      await Promise.all(
        families.map(async f => {
          const args = [f === 4 ? '-4' : '-6', 'route', 'show', 'table', 'main']
          const text = await ipJson(args)
          try {
            const r = parseRoutes(text, f)
            out.push(...r.routes)
            skipped.push(...r.skipped)
          } catch (e) {
            throw erdError(
              'ERD_ERR_IP_OUTPUT',
              args.join(' '),
              (e as Error).message,
            )
          }
        }),
      )
      return { routes: out, skipped }
    },
    async apply(ops, pre = []) {
      if (ops.length + pre.length === 0) return { failed: 0, errors: '' }
      return batch.run([...pre, ...ops.map(formatOp)])
    },
    async addresses(ifname) {
      return parseAddresses(await ipJson(['addr', 'show', 'dev', ifname]))
        .addresses
    },
    async neighbours(ifname) {
      return parseNeighbours(await ipJson(['neigh', 'show', 'dev', ifname]))
    },
    watch(onEvent, onExit) {
      const child: ChildProcess = spawn(
        'ip',
        ['-o', 'monitor', 'link', 'neigh'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let closed = false
      const splitter = new LineSplitter(
        64 * 1024,
        line => {
          const e = parseMonitorLine(line)
          if (e?.kind === 'link') sysfs.forget() // a rename keeps the held files
          if (e) onEvent(e)
        },
        () => {},
      )
      child.stdout?.on('data', (c: Buffer) => splitter.push(c))
      let stderr = ''
      child.stderr?.on(
        'data',
        (c: Buffer) => (stderr = (stderr + c.toString()).slice(-500)),
      )
      child.once('error', e => {
        if (!closed) onExit(e.message)
        closed = true
      })
      child.once('exit', (code, sig) => {
        if (!closed)
          onExit(`ip monitor exited (${code ?? sig}) ${stderr.trim()}`)
        closed = true
      })
      return {
        close() {
          closed = true
          if (child.exitCode === null && child.signalCode === null)
            child.kill('SIGTERM')
        },
      }
    },
    async run(cmds) {
      const failed: string[] = []
      await Promise.all(
        cmds.map(
          argv =>
            new Promise<void>(resolve => {
              execFile(
                argv[0] as string,
                argv.slice(1),
                { timeout: 5000 },
                (err, _o, stderr) => {
                  // arping exits 1 and ndisc6 2 when nobody answers: expected;
                  // erd-na says why on stderr when it fails.
                  const code = (err as { code?: unknown } | null)?.code
                  if (
                    err &&
                    (typeof code !== 'number' || code > 2 || stderr.trim())
                  ) {
                    failed.push(
                      `${argv.join(' ')}: ${stderr.trim() || err.message}`,
                    )
                  }
                  resolve()
                },
              )
            }),
        ),
      )
      return { failed }
    },
    async canAdminNetwork() {
      try {
        return hasNetAdmin(await readFile('/proc/self/status', 'utf8'))
      } catch {
        return false
      }
    },
    async hasProgram(name) {
      for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(
        delimiter,
      )) {
        if (!dir) continue
        try {
          await access(join(dir, name), constants.X_OK)
          return true
        } catch {
          // next directory
        }
      }
      return false
    },
  }
}

const SENTINEL = /^\d+: lo[:@]/

/**
 * One long-lived `ip -o -force -batch -`: a route change costs a pipe
 * write instead of a process start (tens of ms on a loaded host, most of
 * the switchover budget). Each run ends with `link show dev lo`; its
 * output line marks the end, and stderr (merged into stdout by the shell,
 * to keep the order) tells which lines failed.
 */
class IpBatch {
  #child: ChildProcess | undefined
  #waiter: ((line: string) => void) | undefined
  /** Runs one at a time, in call order: the end marker is per run. */
  #tail: Promise<unknown> = Promise.resolve()

  constructor() {
    // Started at once so the first switchover does not pay for it.
    this.#start()
  }

  #start(): ChildProcess {
    const child = spawn('sh', ['-c', 'exec ip -o -force -batch - 2>&1'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    const splitter = new LineSplitter(
      1 << 20,
      line => this.#waiter?.(line),
      () => {},
    )
    child.stdout?.on('data', (c: Buffer) => splitter.push(c))
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined
      this.#waiter?.('\0exit')
    })
    child.stdin?.on('error', () => {})
    this.#child = child
    return child
  }

  run(lines: readonly string[]): Promise<ApplyResult> {
    const next = this.#tail.then(() => this.#run(lines))
    this.#tail = next
    return next
  }

  #run(lines: readonly string[]): Promise<ApplyResult> {
    const child = this.#child ?? this.#start()
    return new Promise(resolve => {
      const errors: string[] = []
      this.#waiter = line => {
        if (SENTINEL.test(line) || line === '\0exit') {
          this.#waiter = undefined
          const failed = errors.filter(e =>
            e.startsWith('Command failed'),
          ).length
          resolve({
            failed: line === '\0exit' ? lines.length : failed,
            errors: line === '\0exit' ? 'ip -batch exited' : errors.join('; '),
          })
        } else errors.push(line)
      }
      child.stdin?.write(`${lines.join('\n')}\nlink show dev lo\n`)
    })
  }

  close(): void {
    const c = this.#child
    this.#child = undefined
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  }
}
