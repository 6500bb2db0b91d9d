// The local control channel every daemon serves (status, pause, weights...).
// One request line per connection, one answer line, over a Unix socket (or
// TCP on loopback when given host:port):
//   request:  <command> [arg ...]\n
//   answer:   OK <json>\n   |   ERR <CODE> <text>\n
// Only the first line of a connection is executed: a value that smuggles a
// newline into a request can never become a second command. Commands are
// the daemon's own and are documented in its PROTOCOL.md.

import { createServer, connect, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { LineSplitter } from './line-splitter.js'
import { HasError, hasCode, kitError } from './errors.js'
import { parseHostPort } from './units.js'
import { checkListenHost } from './listen-policy.js'
import {
  clearSocketPath,
  prepareSocketDir,
  privateRuntimeDir,
  verifySocket,
  withSocketUmask,
} from './socket-path.js'
import {
  checkControlPeerPath,
  unsafeControlPathAllowed,
} from './control-peer.js'
import type { Logger } from './logger.js'

export const CONTROL_MAX_LINE = 4096

export type ControlHandler = (args: string[]) => unknown | Promise<unknown>
export type ControlHandlers = Readonly<Record<string, ControlHandler>>

/**
 * Where a daemon listens when --control is not given: /run/has as root;
 * else $XDG_RUNTIME_DIR (private to the user), else a private 0700
 * directory `<tmp>/has-<uid>` (checked when the socket is created).
 */
export function defaultControlPath(
  name: string,
  ctx: { uid?: number; env?: NodeJS.ProcessEnv; tmp?: string } = {},
): string {
  const uid = ctx.uid ?? process.getuid?.() ?? -1
  const env = ctx.env ?? process.env
  if (uid === 0) return `/run/has/${name}.sock`
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/${name}.sock`
  return `${privateRuntimeDir(uid, ctx.tmp ?? tmpdir())}/${name}.sock`
}

export interface ControlServer {
  readonly address: string
  close(): Promise<void>
}

function isTcp(address: string): boolean {
  return !address.includes('/') && parseHostPort(address) !== undefined
}

/** C0 and C1 control characters and DEL. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/
/** White space or a control character: never part of one argument. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const NOT_IN_WORD = /[\s\u0000-\u001f\u007f-\u009f]/

/**
 * Throws KIT_ERR_CONTROL_ARGUMENT unless the command and every argument
 * is one non-empty word without white space or control characters (the
 * wire has no quoting, so anything else would change the request).
 */
export function checkControlWords(
  command: string,
  args: readonly string[],
): void {
  for (const w of [command, ...args]) {
    if (typeof w !== 'string' || w === '' || NOT_IN_WORD.test(w)) {
      throw kitError('KIT_ERR_CONTROL_ARGUMENT', JSON.stringify(w))
    }
  }
}

/** Parses one request line into command and arguments (pure). */
export function parseControlLine(
  line: string,
): { command: string; args: string[] } | undefined {
  if (CONTROL_CHAR.test(line)) return undefined
  const words = line.trim().split(/\s+/).filter(Boolean)
  const [command, ...args] = words
  if (!command || !/^[a-z][a-z0-9_-]*$/.test(command)) return undefined
  return { command, args }
}

/** Formats an answer line (pure). */
export function formatControlAnswer(
  result:
    { ok: true; value: unknown } | { ok: false; code: string; text: string },
): string {
  return result.ok
    ? `OK ${JSON.stringify(result.value ?? null)}\n`
    : `ERR ${result.code} ${result.text.replace(/[\r\n]+/g, ' ')}\n`
}

export async function startControlServer(opts: {
  address: string
  handlers: ControlHandlers
  logger?: Logger
  /** Allow a TCP address that is not loopback (no authentication!). */
  allowRemote?: boolean
}): Promise<ControlServer> {
  const { address, handlers, logger } = opts
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    let answered = false
    const splitter = new LineSplitter(
      CONTROL_MAX_LINE,
      line => {
        // One request per connection: whatever follows the first line
        // (a second command hidden behind a newline) is never executed.
        if (answered) return
        answered = true
        void dispatch(line, handlers).then(answer => {
          if (!socket.destroyed) socket.end(answer)
        })
      },
      () => {
        if (answered) return
        answered = true
        socket.end(
          formatControlAnswer({
            ok: false,
            code: 'KIT_ERR_LINE_TOO_LONG',
            text: `line longer than ${CONTROL_MAX_LINE} bytes`,
          }),
        )
      },
    )
    socket.on('data', chunk => {
      if (!answered) splitter.push(chunk)
    })
  })
  const hp = isTcp(address) ? parseHostPort(address) : undefined
  if (hp) checkListenHost('control', address, hp.host, opts.allowRemote)
  else {
    const dir = prepareSocketDir(address)
    if (dir.warning) logger?.warn({ control: address }, dir.warning)
    // A stale socket from a crashed run would make listen fail; a live
    // daemon still answering there is a real conflict.
    await clearSocketPath(address)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', e =>
      reject(kitError('KIT_ERR_LISTEN', address, e.message, e)),
    )
    if (hp) server.listen(hp.port, hp.host, resolve)
    // exclusive: bind here, now, under our umask (not via a cluster primary).
    else
      withSocketUmask(() =>
        server.listen({ path: address, exclusive: true }, resolve),
      )
  })
  let bound = address
  if (!hp) {
    try {
      verifySocket(address)
    } catch (e) {
      await new Promise<void>(r => server.close(() => r()))
      throw e
    }
  } else {
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

async function dispatch(
  line: string,
  handlers: ControlHandlers,
): Promise<string> {
  const req = parseControlLine(line)
  if (!req) {
    return formatControlAnswer({
      ok: false,
      code: 'KIT_ERR_CONTROL_SYNTAX',
      text: 'bad request line',
    })
  }
  const handler = Object.hasOwn(handlers, req.command)
    ? handlers[req.command]
    : undefined
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

export interface ControlRequestOptions {
  /** Talk to a Unix socket that fails checkControlPeerPath (issue 19.7). */
  readonly allowUnsafePath?: boolean
}

/**
 * Sends one command and returns the decoded OK value, or throws the ERR.
 * Refuses (KIT_ERR_CONTROL_ARGUMENT) words with white space or control
 * characters before connecting, and (KIT_ERR_CONTROL_UNSAFE) a Unix
 * socket someone other than root, the caller or its directory's owner
 * could have put there, unless overridden.
 */
export async function controlRequest(
  address: string,
  command: string,
  args: readonly string[] = [],
  timeoutMs = 5000,
  opts: ControlRequestOptions = {},
): Promise<unknown> {
  checkControlWords(command, args)
  const hp = isTcp(address) ? parseHostPort(address) : undefined
  if (!hp && !unsafeControlPathAllowed(opts.allowUnsafePath))
    checkControlPeerPath(address)
  return new Promise((resolve, reject) => {
    const socket = hp ? connect(hp.port, hp.host) : connect(address)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(kitError('KIT_ERR_CONTROL_TIMEOUT', timeoutMs))
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
            reject(
              new HasError(m?.[1] ?? 'KIT_ERR_CONTROL_REMOTE', m?.[2] ?? line),
            ),
          )
        }
      },
      () => done(() => reject(kitError('KIT_ERR_LINE_TOO_LONG', 'answer'))),
    )
    socket.on('data', c => splitter.push(c))
    socket.once('connect', () =>
      socket.write(`${[command, ...args].join(' ')}\n`),
    )
    socket.once('error', e =>
      done(() =>
        reject(kitError('KIT_ERR_CONTROL_UNREACHABLE', address, e.message, e)),
      ),
    )
  })
}
