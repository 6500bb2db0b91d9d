// The check types. Each one resolves (never rejects) to a CheckResult
// within its own deadline, so a hanging server costs one timeout and never
// blocks other checks; child processes are killed when the deadline hits.

import { connect } from 'node:net'
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { spawn } from 'node:child_process'
import { isIP } from 'node:net'
import { splitWords } from '@has/daemon-kit'
import type { HttpMethod, ServiceKind } from './config.js'

export interface CheckResult {
  readonly ok: boolean
  /** Human text for status and logs ("HTTP status 503 is not 2xx"). */
  readonly reason: string
  /** LD_ERR_* code of a failure. */
  readonly code?: string
}

const OK: CheckResult = Object.freeze({ ok: true, reason: 'ok' })
const fail = (code: string, reason: string): CheckResult => ({
  ok: false,
  code,
  reason,
})
/** Bytes of body read for the receive regex; the rest is ignored. */
export const MAX_BODY = 1024 * 1024

// One agent per scheme for every check: `agent: false` would build a new
// Agent per request, and a shared https agent resumes TLS sessions, which
// makes a repeated https check far cheaper. No keep-alive: each check must
// open a fresh connection, as ldirectord's does.
const httpAgent = new HttpAgent({ keepAlive: false })
// ldirectord does not verify certificates either: this is a liveness
// check of a real server by address, not a trust decision.
const httpsAgent = new HttpsAgent({
  keepAlive: false,
  rejectUnauthorized: false,
})

/** receive regexes compiled once; the set is bounded by the configs loaded. */
const regexCache = new Map<string, RegExp>()
function receiveRegex(source: string): RegExp {
  let re = regexCache.get(source)
  if (!re) {
    if (regexCache.size >= 1000) regexCache.clear()
    re = new RegExp(source)
    regexCache.set(source, re)
  }
  return re
}

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}

/** TCP connect within timeoutMs. */
export function checkConnect(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<CheckResult> {
  return new Promise(resolve => {
    const s = connect({ host, port })
    const timer = setTimeout(() => {
      s.destroy()
      resolve(
        fail(
          'LD_ERR_CHECK_TIMEOUT',
          `connect: no answer within ${timeoutMs} ms`,
        ),
      )
    }, timeoutMs)
    s.once('connect', () => {
      clearTimeout(timer)
      s.destroy()
      resolve(OK)
    })
    s.once('error', e => {
      clearTimeout(timer)
      resolve(fail('LD_ERR_CHECK_CONNECT', `connect failed: ${e.message}`))
    })
  })
}

export interface HttpCheck {
  readonly service: Exclude<ServiceKind, 'none'>
  readonly host: string
  readonly port: number
  /** ldirectord's request: a path ("index.html") or a full URL. */
  readonly request: string
  readonly receive?: string
  readonly method: HttpMethod
  readonly virtualhost?: string
  readonly timeoutMs: number
}

/** Path and Host header from ldirectord's request/virtualhost rules. */
export function httpTarget(
  c: Pick<HttpCheck, 'request' | 'virtualhost' | 'host' | 'port'>,
): {
  path: string
  hostHeader: string
} {
  let path = c.request
  let urlHost: string | undefined
  const m = /^[a-z]+:\/\/([^/]*)(\/.*)?$/i.exec(c.request)
  if (m) {
    urlHost = m[1]
    path = m[2] ?? '/'
  }
  if (!path.startsWith('/')) path = `/${path}`
  const hostHeader =
    c.virtualhost ?? urlHost ?? `${hostForUrl(c.host)}:${c.port}`
  return { path, hostHeader }
}

/** negotiate for http/https: 2xx and the receive regex in the body. */
export function checkHttp(c: HttpCheck): Promise<CheckResult> {
  const { path, hostHeader } = httpTarget(c)
  return new Promise(resolve => {
    let settled = false
    const done = (r: CheckResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(r)
    }
    const https = c.service === 'https'
    const req = (https ? httpsRequest : httpRequest)({
      host: c.host,
      port: c.port,
      method: c.method,
      path,
      headers: {
        Host: hostHeader,
        'User-Agent': 'has-ldirectord',
        Connection: 'close',
      },
      rejectUnauthorized: false,
      agent: https ? httpsAgent : httpAgent,
    })
    const timer = setTimeout(
      () =>
        done(
          fail('LD_ERR_CHECK_TIMEOUT', `no answer within ${c.timeoutMs} ms`),
        ),
      c.timeoutMs,
    )
    req.once('error', e =>
      done(fail('LD_ERR_CHECK_CONNECT', `${c.service}: ${e.message}`)),
    )
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      if (status < 200 || status > 299) {
        done(fail('LD_ERR_CHECK_STATUS', `HTTP status ${status} is not 2xx`))
        return
      }
      if (c.receive === undefined || c.method === 'HEAD') {
        done(OK)
        return
      }
      const re = receiveRegex(c.receive)
      const chunks: Buffer[] = []
      let size = 0
      const judge = (): void => {
        const body = Buffer.concat(chunks).toString('latin1')
        done(
          re.test(body)
            ? OK
            : fail(
                'LD_ERR_CHECK_RECEIVE',
                `response does not match receive "${c.receive}"`,
              ),
        )
      }
      res.on('data', (b: Buffer) => {
        if (size >= MAX_BODY) return
        chunks.push(b)
        size += b.length
        if (size >= MAX_BODY) judge()
      })
      res.once('end', judge)
      res.once('error', e =>
        done(fail('LD_ERR_CHECK_CONNECT', `${c.service}: ${e.message}`)),
      )
    })
    req.end()
  })
}

/** Runs argv, killed (whole process group) at the deadline; exit 0 = ok. */
export function runWithTimeout(
  argv: readonly string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<CheckResult> {
  return new Promise(resolve => {
    const [cmd = '/bin/false', ...args] = argv
    const child = spawn(cmd, args, {
      stdio: 'ignore',
      detached: true,
      ...(env ? { env: { ...process.env, ...env } } : {}),
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try {
        process.kill(-(child.pid as number), 'SIGKILL')
      } catch {
        child.kill('SIGKILL')
      }
    }, timeoutMs)
    child.once('error', e => {
      clearTimeout(timer)
      resolve(fail('LD_ERR_CHECK_EXIT', `cannot run ${cmd}: ${e.message}`))
    })
    child.once('exit', (code, sig) => {
      clearTimeout(timer)
      if (timedOut)
        resolve(
          fail(
            'LD_ERR_CHECK_TIMEOUT',
            `${cmd}: no answer within ${timeoutMs} ms`,
          ),
        )
      else if (code === 0) resolve(OK)
      else
        resolve(fail('LD_ERR_CHECK_EXIT', `${cmd} exited with ${code ?? sig}`))
    })
  })
}

/** One echo request through the system ping. */
export function checkPing(
  host: string,
  timeoutMs: number,
): Promise<CheckResult> {
  const wait = String(Math.max(1, Math.ceil(timeoutMs / 1000)))
  const fam = isIP(host) === 6 ? ['-6'] : []
  return runWithTimeout(
    ['ping', ...fam, '-n', '-q', '-c', '1', '-W', wait, host],
    timeoutMs,
  )
}

/** checkcommand with ldirectord's arguments: vip vport rip rport. */
export function checkExternal(
  command: string,
  args: { vip: string; vport: number; rip: string; rport: number },
  timeoutMs: number,
): Promise<CheckResult> {
  return runWithTimeout(
    [
      ...splitWords(command),
      args.vip,
      String(args.vport),
      args.rip,
      String(args.rport),
    ],
    timeoutMs,
  )
}

export const checkOn = (): Promise<CheckResult> => Promise.resolve(OK)
export const checkOff = (): Promise<CheckResult> =>
  Promise.resolve(fail('LD_ERR_CHECK_OFF', 'checktype is off'))
