// Stand-ins for the peers, speaking their documented protocols: a UDP
// socket that receives LOAD reports (traffic-manager's report port) and a
// control socket with the traffic-manager/traffic-client commands. The
// seam: these record what ldirectord says instead of acting on it.

import { createSocket } from 'node:dgram'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startControlServer, type ControlServer } from '@has/daemon-kit'
import {
  parseReport,
  verifyReport,
  type LoadReport,
} from '@has/traffic-manager/protocol'

export interface Recorded<T> {
  readonly items: T[]
  /** Resolves with the first item (past or future) matching pred. */
  wait(pred: (x: T) => boolean, timeoutMs?: number): Promise<T>
}

export function recorder<T>(): Recorded<T> & { push(x: T): void } {
  const items: T[] = []
  const waiters = new Set<{
    pred: (x: T) => boolean
    resolve: (x: T) => void
  }>()
  return {
    items,
    push(x) {
      items.push(x)
      for (const w of waiters) {
        if (!w.pred(x)) continue
        waiters.delete(w)
        w.resolve(x)
      }
    },
    wait(pred, timeoutMs = 15_000) {
      const found = items.find(pred)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (x: T) => (clearTimeout(timer), resolve(x)) }
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(
            new Error(
              `not seen within ${timeoutMs} ms; got ${JSON.stringify(items.slice(-5))}`,
            ),
          )
        }, timeoutMs)
        waiters.add(w)
      })
    },
  }
}

export interface ReportSink {
  readonly port: number
  readonly reports: Recorded<LoadReport & { at: number; verified: boolean }>
  close(): Promise<void>
}

export async function reportSink(key: string): Promise<ReportSink> {
  const sock = createSocket('udp4')
  const reports = recorder<LoadReport & { at: number; verified: boolean }>()
  sock.on('message', msg => {
    const p = parseReport(msg)
    if (p.ok)
      reports.push({
        ...p.report,
        at: Date.now(),
        verified: verifyReport(p, key),
      })
  })
  await new Promise<void>(r => sock.bind(0, '127.0.0.1', r))
  return {
    port: sock.address().port,
    reports,
    close: () => new Promise(r => sock.close(() => r())),
  }
}

export interface ControlPeer {
  readonly address: string
  readonly commands: Recorded<{ cmd: string; args: string[]; at: number }>
  close(): Promise<void>
}

/** A control socket answering `names` with OK and recording each call. */
export async function controlPeer(
  names: readonly string[],
): Promise<ControlPeer> {
  const commands = recorder<{ cmd: string; args: string[]; at: number }>()
  const handlers = Object.fromEntries(
    names.map(n => [
      n,
      (args: string[]) => (
        commands.push({ cmd: n, args, at: Date.now() }),
        { ok: true }
      ),
    ]),
  )
  const address = join(mkdtempSync(join(tmpdir(), 'ldp-')), 'ctl.sock')
  const server: ControlServer = await startControlServer({ address, handlers })
  return { address, commands, close: () => server.close() }
}

/** A short temp dir for Unix sockets (paths are limited to 107 bytes). */
export function socketDir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'ld-'))
  t.teardown(() => rmSync(d, { recursive: true, force: true }))
  return d
}
