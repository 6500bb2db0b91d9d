// The local control channel every daemon serves (status, pause, weights...).
// One line per request, one line per answer, over a Unix socket (or TCP on
// loopback when given host:port):
//   request:  <command> [arg ...]\n
//   answer:   OK <json>\n   |   ERR <CODE> <text>\n
// Commands are the daemon's own and are documented in its PROTOCOL.md.

import { createServer, connect, type Server, type Socket } from 'node:net'
import { mkdirSync, unlinkSync, existsSync, chmodSync } from 'node:fs'
import { dirname } from 'node:path'
import { tmpdir } from 'node:os'
import { LineSplitter } from './line-splitter.js'
import { HasError, hasCode, kitErrors } from './errors.js'
import { parseHostPort } from './units.js'
import type { Logger } from './logger.js'

export const CONTROL_MAX_LINE = 4096

export type ControlHandler = (args: string[]) => unknown | Promise<unknown>
export type ControlHandlers = Readonly<Record<string, ControlHandler>>

/** Where a daemon listens when --control is not given. */
export function defaultControlPath(name: string): string {
  const root =
    process.getuid?.() === 0
      ? '/run/has'
      : (process.env.XDG_RUNTIME_DIR ?? tmpdir())
  return `${root}/${name}.sock`
}

export interface ControlServer {
  readonly address: string
  close(): Promise<void>
}

function isTcp(address: string): boolean {
  return !address.includes('/') && parseHostPort(address) !== undefined
}

/** Parses one request line into command and arguments (pure). */
export function parseControlLine(
  line: string,
): { command: string; args: string[] } | undefined {
  const words = line.trim().split(/\s+/).filter(Boolean)
  const [command, ...args] = words
  if (!command || !/^[a-z][a-z0-9_-]*$/.test(command)) return undefined
  return { command, args }
}

/** Formats an answer line (pure). */
export function formatControlAnswer(
  result: { ok: true; value: unknown } | { ok: false; code: string; text: string },
): string {
  return result.ok
    ? `OK ${JSON.stringify(result.value ?? null)}\n`
    : `ERR ${result.code} ${result.text.replace(/[\r\n]+/g, ' ')}\n`
}

export async function startControlServer(opts: {
  address: string
  handlers: ControlHandlers
  logger?: Logger
}): Promise<ControlServer> {
  const { address, handlers, logger } = opts
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let chain = Promise.resolve()
    const splitter = new LineSplitter(
      CONTROL_MAX_LINE,
      line => {
        // Answers keep request order even when handlers are async.
        chain = chain.then(async () => {
          const answer = await dispatch(line, handlers)
          if (!socket.destroyed) socket.write(answer)
        })
      },
      () => {
        socket.end(
          formatControlAnswer({
            ok: false,
            code: 'KIT_ERR_LINE_TOO_LONG',
            text: `line longer than ${CONTROL_MAX_LINE} bytes`,
          }),
        )
      },
    )
    socket.on('data', chunk => splitter.push(chunk))
  })
  if (!isTcp(address)) {
    mkdirSync(dirname(address), { recursive: true })
    // A stale socket from a crashed run would make listen fail; a live
    // daemon still answering there is a real conflict.
    if (existsSync(address)) {
      const alive = await probe(address)
      if (alive) {
        throw kitErrors('KIT_ERR_LISTEN', address, 'another daemon is running there')
      }
      unlinkSync(address)
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', e =>
      reject(kitErrors('KIT_ERR_LISTEN', address, e.message, e)),
    )
    const hp = isTcp(address) ? parseHostPort(address) : undefined
    if (hp) server.listen(hp.port, hp.host, resolve)
    else server.listen(address, resolve)
  })
  let bound = address
  if (!isTcp(address)) chmodSync(address, 0o660)
  else {
    const a = server.address()
    if (a && typeof a === 'object') bound = `${a.address}:${a.port}`
  }
  logger?.debug({ control: bound }, 'control socket up')
  return {
    address: bound,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function dispatch(line: string, handlers: ControlHandlers): Promise<string> {
  const req = parseControlLine(line)
  if (!req) {
    return formatControlAnswer({ ok: false, code: 'KIT_ERR_CONTROL_SYNTAX', text: 'bad request line' })
  }
  const handler = Object.hasOwn(handlers, req.command) ? handlers[req.command] : undefined
  if (!handler) {
    return formatControlAnswer({
      ok: false,
      code: 'KIT_ERR_CONTROL_UNKNOWN',
      text: `unknown command "${req.command}"; known: ${Object.keys(handlers).sort().join(' ')}`,
    })
  }
  try {
    return formatControlAnswer({ ok: true, value: await handler(req.args) })
  } catch (e) {
    return formatControlAnswer({
      ok: false,
      code: hasCode(e) ? e.code : 'KIT_ERR_CONTROL_FAILED',
      text: e instanceof Error ? e.message : String(e),
    })
  }
}

function probe(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(path)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** Sends one command and returns the decoded OK value, or throws the ERR. */
export async function controlRequest(
  address: string,
  command: string,
  args: readonly string[] = [],
  timeoutMs = 5000,
): Promise<unknown> {
  const hp = isTcp(address) ? parseHostPort(address) : undefined
  return new Promise((resolve, reject) => {
    const socket = hp ? connect(hp.port, hp.host) : connect(address)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(kitErrors('KIT_ERR_CONTROL_TIMEOUT', timeoutMs))
    }, timeoutMs)
    const done = (fn: () => void): void => {
      clearTimeout(timer)
      socket.destroy()
      fn()
    }
    const splitter = new LineSplitter(
      16 * 1024 * 1024,
      line => {
        if (line.startsWith('OK ')) {
          done(() => resolve(JSON.parse(line.slice(3))))
        } else {
          const m = /^ERR (\S+) ?(.*)$/.exec(line)
          done(() =>
            reject(new HasError(m?.[1] ?? 'KIT_ERR_CONTROL_REMOTE', m?.[2] ?? line)),
          )
        }
      },
      () => done(() => reject(kitErrors('KIT_ERR_LINE_TOO_LONG', 'answer'))),
    )
    socket.on('data', c => splitter.push(c))
    socket.once('connect', () => socket.write(`${[command, ...args].join(' ')}\n`))
    socket.once('error', e =>
      done(() => reject(kitErrors('KIT_ERR_CONTROL_UNREACHABLE', address, e.message, e))),
    )
  })
}
