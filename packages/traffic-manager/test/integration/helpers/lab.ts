// A small loopback lab for integration tests: HTTP backends on 127.0.0.x
// (each answers with its own address), a reporter per node speaking the
// real report codec, and the real traffic-manager binary.

import { createServer, request, type Server } from 'node:http'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import {
  spawnDaemon,
  binPath,
  track,
  type Proc,
  waitFor,
  portOf,
} from '@has/test-support'
import { controlRequest } from '@has/daemon-kit'
import { formatReport, type ReportState } from '../../../src/report-protocol.js'
import type { StatusSnapshot } from '../../../src/traffic-manager.js'

export interface Backend {
  readonly address: string
  port: number
  server: Server
  /** Requests to /hold wait here until released. */
  held: (() => void)[]
  close(): Promise<void>
}

export async function startBackend(
  address: string,
  port = 0,
): Promise<Backend> {
  const b: Backend = {
    address,
    port: 0,
    held: [],
    server: createServer((req, res) => {
      const reply = (): void => void res.end(`${address}\n`)
      if (req.url === '/hold') b.held.push(reply)
      else reply()
    }),
    close: async () => {
      b.server.closeAllConnections()
      await new Promise(r => b.server.close(r))
    },
  }
  b.server.listen(port, address)
  await once(b.server, 'listening')
  b.port = portOf(b.server)
  return b
}

export class Reporter {
  readonly #sock: UdpSocket
  #seq = 0
  #timer: NodeJS.Timeout | undefined
  readonly epoch = Date.now()
  sent: string[] = []
  constructor(
    readonly node: string,
    public target: { host: string; port: number },
    readonly key?: string,
    public state: ReportState = 'up',
    public load = 1000,
    readonly sender = 'tc',
  ) {
    this.#sock = createSocket('udp4')
    this.#sock.unref()
  }
  send(
    over: { state?: ReportState; load?: number; key?: string } = {},
  ): string {
    const line = formatReport(
      {
        node: this.node,
        load: over.load ?? this.load,
        state: over.state ?? this.state,
        sender: this.sender,
        epoch: this.epoch,
        seq: ++this.#seq,
      },
      over.key ?? this.key,
    )
    this.sent.push(line)
    this.#sock.send(line, this.target.port, this.target.host)
    return line
  }
  raw(line: string): void {
    this.#sock.send(line, this.target.port, this.target.host)
  }
  every(ms: number): void {
    this.stop()
    this.send()
    this.#timer = setInterval(() => this.send(), ms)
  }
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
  close(): void {
    this.stop()
    this.#sock.close()
  }
}

export interface Tm {
  proc: Proc
  control: string
  reports: { host: string; port: number }
  /** Bound address per service name. */
  vip: Map<string, { host: string; port: number }>
  status(): Promise<StatusSnapshot>
  ctl(cmd: string, args?: string[]): Promise<unknown>
}

export function writeConf(dir: string, text: string): string {
  const p = join(dir, 'tmd.conf')
  writeFileSync(p, text)
  return p
}

export interface StartTmOptions {
  /** Descriptor limit (soft and hard) of the process, set with prlimit(1). */
  readonly nofile?: number
  readonly env?: NodeJS.ProcessEnv
}

export async function startTm(
  conf: string,
  extra: string[] = [],
  opts: StartTmOptions = {},
): Promise<Tm> {
  const control = join(mkdtempSync(join(tmpdir(), 'tm-')), 'ctl.sock')
  const args = ['-c', conf, '--control', control, ...extra]
  const env = opts.env ? { env: { ...process.env, ...opts.env } } : {}
  const proc =
    opts.nofile === undefined
      ? spawnDaemon('traffic-manager', args, env)
      : track(
          spawn(
            'prlimit',
            [
              `--nofile=${opts.nofile}:${opts.nofile}`,
              process.execPath,
              binPath('traffic-manager'),
              ...args,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'], ...env },
          ),
        )
  const started = await proc.waitLog(l => l.msg === 'started', 30_000)
  void started
  const ready = await proc.waitLog(l => l.msg === 'traffic-manager ready')
  const [host = '', port = ''] = String(ready.reports).split(/:(?=\d+$)/)
  const vip = new Map<string, { host: string; port: number }>()
  for (const l of proc.logs) {
    if (l.msg === 'virtual service up' && typeof l.listening === 'string') {
      const m = /^(.*):(\d+)$/.exec(l.listening)
      if (m)
        vip.set(String(l.service), { host: m[1] as string, port: Number(m[2]) })
    }
  }
  return {
    proc,
    control,
    reports: { host, port: Number(port) },
    vip,
    status: () => controlRequest(control, 'status') as Promise<StatusSnapshot>,
    ctl: (cmd, args = []) => controlRequest(control, cmd, args),
  }
}

/** One HTTP/1.0-style request on a fresh connection; resolves to the body. */
export function get(
  target: { host: string; port: number },
  path = '/',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path,
        agent: false,
        headers: { connection: 'close' },
      },
      res => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', d => (body += d))
        res.on('end', () => resolve(body.trim()))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Opens a raw connection and sends a request for /hold (the reply waits). */
export async function hold(target: {
  host: string
  port: number
}): Promise<{ sock: Socket; body: Promise<string> }> {
  const sock = connect(target.port, target.host)
  await once(sock, 'connect')
  let data = ''
  sock.setEncoding('utf8')
  sock.on('data', d => (data += d))
  const body = new Promise<string>(resolve =>
    sock.on('end', () => resolve(data.split('\r\n\r\n')[1]?.trim() ?? '')),
  )
  sock.write('GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  return { sock, body }
}

/** Re-reads status until pred holds (state changes arrive by UDP). */
export function until(
  tm: Tm,
  pred: (s: StatusSnapshot) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<StatusSnapshot> {
  let last: StatusSnapshot | undefined
  return waitFor(
    async () => {
      last = await tm.status()
      return pred(last) && last
    },
    { what, timeoutMs, intervalMs: 25 },
  ).catch((e: unknown) => {
    // The services as last seen say why the wait failed.
    throw new Error(`${String(e)}: ${JSON.stringify(last?.services)}`)
  })
}

export function nodeOf(s: StatusSnapshot, service: string, node: string) {
  return s.services
    .find(v => v.name === service)
    ?.nodes.find(n => n.address === node)
}
