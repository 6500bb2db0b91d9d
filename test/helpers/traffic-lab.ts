// A small traffic cluster on loopback for cross-daemon tests: the real
// traffic-manager and traffic-client binaries, a --procfs tree per node so
// each reports a chosen capacity, and each node's web server (HTTP/1.1,
// answers with its name in x-node, like examples/local-cluster/node-server.js)
// in the test process itself: a real TCP server on the node's loopback
// address, one process less per node on a busy CI machine. Every process is
// started here and stopped by PID in cleanup(); the temp dir is removed.

import { createSocket } from 'node:dgram'
import { createServer, connect, type AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  request,
  createServer as createHttpServer,
  type Server,
} from 'node:http'
import { controlRequest } from '@has/daemon-kit'
import { writeProcfsFixture } from '@has/traffic-client'
import { spawnDaemon, type Proc } from '@has/test-support'

export const KEY = 'traffic-path-test-shared-key'

export interface LabNode {
  readonly name: string
  readonly ip: string
  readonly cpus: number
  readonly procfs: string
  readonly conf: string
  readonly control: string
  web?: Server
  client?: Proc
}

export interface TmStatusNode {
  address: string
  state: string
  load: number
  sender: string | null
  lastReportAgeMs: number | null
}
export interface TmServiceNode {
  address: string
  state: string
  load: number
  weight: number
  eligible: boolean
  active: number
  total: number
}
export interface TmStatus {
  reports: { accepted: number; dropped: Record<string, number> }
  nodes: TmStatusNode[]
  services: { name: string; scheduler: string; nodes: TmServiceNode[] }[]
}

export function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'udp') {
      const s = createSocket('udp4')
      s.once('error', reject)
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address()
        s.close(() => resolve(port))
      })
    } else {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo
        s.close(() => resolve(port))
      })
    }
  })
}

export interface LabOptions {
  /** cpus per node (capacity ratio); node i gets 127.0.0.(21 + i + base). */
  readonly cpus: readonly number[]
  /** virtual services: scheduler per service. */
  readonly schedulers: readonly string[]
  readonly timeoutMs?: number
  readonly updatesMs?: number
  readonly workers?: number
  /** Third octet-free offset so labs running at once use distinct IPs. */
  readonly ipBase: number
  /** Masters of a node's traffic-client (default: the manager only). */
  readonly mastersFor?: (n: LabNode, i: number) => readonly string[]
  /** Web server service time (ms), default 0. */
  readonly serviceMs?: number
}

export class TrafficLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'has-traffic-path-'))
  readonly nodes: LabNode[]
  readonly tmControl = join(this.dir, 'tm.sock')
  readonly tmConf = join(this.dir, 'tmd.conf')
  tm?: Proc
  reportPort = 0
  nodePort = 0
  metricsPort = 0
  vipPorts: number[] = []
  readonly #procs = new Set<Proc>()

  constructor(readonly opts: LabOptions) {
    this.nodes = opts.cpus.map((cpus, i) => {
      const name = `node${i + 1}`
      const d = join(this.dir, name)
      return {
        name,
        ip: `127.0.0.${opts.ipBase + i}`,
        cpus,
        procfs: join(d, 'proc'),
        conf: join(d, 'tcd.conf'),
        control: join(this.dir, `${name}.sock`),
      }
    })
  }

  get updatesMs(): number {
    return this.opts.updatesMs ?? 200
  }
  get timeoutMs(): number {
    return this.opts.timeoutMs ?? 1000
  }

  async init(): Promise<void> {
    this.reportPort = await freePort('udp')
    this.nodePort = await freePort('tcp')
    this.metricsPort = await freePort('tcp')
    this.vipPorts = []
    for (const _ of this.opts.schedulers)
      this.vipPorts.push(await freePort('tcp'))
    writeFileSync(
      this.tmConf,
      [
        'master1 127.0.0.1',
        ...this.nodes.map((n, i) => `traffic${i + 1} ${n.ip}`),
        `port ${this.reportPort}`,
        'listen 127.0.0.1',
        `timeout ${this.timeoutMs}`,
        `key ${KEY}`,
        `workers ${this.opts.workers ?? 0}`,
        'shutdown-deadline 1s',
        ...this.opts.schedulers.flatMap((s, i) => [
          `virtual 127.0.0.1:${this.vipPorts[i]}`,
          `    scheduler ${s}`,
          '    connect-timeout 1s',
          ...this.nodes.map(n => `    node ${n.ip}:${this.nodePort}`),
        ]),
        '',
      ].join('\n'),
    )
    for (const n of this.nodes) {
      writeProcfsFixture(n.procfs, {
        bogomips: 4000,
        cpus: n.cpus,
        memTotalMB: 4096,
        memFreeMB: 3000,
        idleShare: 0.9,
      })
      writeFileSync(
        n.conf,
        [
          ...(
            this.opts.mastersFor?.(n, this.nodes.indexOf(n)) ?? ['127.0.0.1']
          ).map((m, i) => `master${i + 1} ${m}`),
          `port ${this.reportPort}`,
          `updates ${this.updatesMs}`,
          `key ${KEY}`,
          `node ${n.ip}`,
          '',
        ].join('\n'),
      )
    }
  }

  #keep(p: Proc): Proc {
    this.#procs.add(p)
    void p.exited.then(() => this.#procs.delete(p))
    return p
  }

  async startManager(): Promise<Proc> {
    const tm = this.#keep(
      spawnDaemon('traffic-manager', [
        '--config',
        this.tmConf,
        '--control',
        this.tmControl,
        '--metrics',
        `127.0.0.1:${this.metricsPort}`,
        '--log-level',
        'info',
      ]),
    )
    this.tm = tm
    await tm.waitLog(l => l.msg === 'traffic-manager ready', 30_000)
    return tm
  }

  async startWeb(n: LabNode): Promise<Server> {
    const body = Buffer.from(`${n.name}\n`)
    const web = createHttpServer((req, res) => {
      req.resume()
      const answer = () => {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-length': body.length,
          'x-node': n.name,
        })
        res.end(body)
      }
      const ms = this.opts.serviceMs ?? 0
      if (ms > 0) setTimeout(answer, ms)
      else answer()
    })
    web.keepAliveTimeout = 30_000
    n.web = web
    await new Promise<void>((resolve, reject) => {
      web.once('error', reject)
      web.listen(this.nodePort, n.ip, () => resolve())
    })
    return web
  }

  async startClient(n: LabNode): Promise<Proc> {
    const c = this.#keep(
      spawnDaemon('traffic-client', [
        '--config',
        n.conf,
        '--procfs',
        n.procfs,
        '--control',
        n.control,
        '--log-level',
        'info',
      ]),
    )
    n.client = c
    await c.waitLog(l => l.msg === 'reporting load', 30_000)
    return c
  }

  async startAll(): Promise<void> {
    await this.init()
    await Promise.all(this.nodes.map(n => this.startWeb(n)))
    // All at once: a report sent before the manager listens is lost and
    // the next one (one interval later) counts.
    await Promise.all([
      this.startManager(),
      ...this.nodes.map(n => this.startClient(n)),
    ])
    await this.until(
      s => this.nodes.every(n => nodeOf(s, n.ip).state === 'up'),
      10_000,
      'all nodes up',
    )
  }

  status(): Promise<TmStatus> {
    return controlRequest(this.tmControl, 'status') as Promise<TmStatus>
  }

  /** Bounded polling of the manager's status until pred holds. */
  async until(
    pred: (s: TmStatus) => boolean,
    withinMs: number,
    what: string,
  ): Promise<TmStatus> {
    const end = Date.now() + withinMs
    let last: TmStatus | undefined
    for (;;) {
      last = await this.status().catch(() => undefined)
      if (last && pred(last)) return last
      if (Date.now() > end) {
        throw new Error(
          `not within ${withinMs} ms: ${what}; last status: ${JSON.stringify(last?.nodes)}`,
        )
      }
      await new Promise(r => setTimeout(r, 25))
    }
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.#procs].map(p => p.stop('SIGKILL')))
    for (const n of this.nodes) {
      n.web?.closeAllConnections()
      n.web?.close()
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export function nodeOf(s: TmStatus, ip: string): TmStatusNode {
  const n = s.nodes.find(x => x.address === ip)
  if (!n) throw new Error(`node ${ip} not in status`)
  return n
}

/** One HTTP request on its own connection; resolves with the x-node header. */
export function get(port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        agent: false,
        headers: { connection: 'close' },
        timeout: timeoutMs,
      },
      res => {
        const node = String(res.headers['x-node'] ?? '?')
        res.resume()
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(node)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        )
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

/**
 * A kept-alive raw connection through the virtual service: ask() sends one
 * HTTP/1.1 request on the same TCP connection and resolves with the node
 * that answered.
 */
export async function keepAlive(
  port: number,
): Promise<{ ask(): Promise<string>; close(): void }> {
  const sock = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve)
    sock.once('error', reject)
  })
  let buf = ''
  let waiting:
    { resolve: (n: string) => void; reject: (e: Error) => void } | undefined
  const tryParse = (): void => {
    const end = buf.indexOf('\r\n\r\n')
    if (end < 0 || !waiting) return
    const head = buf.slice(0, end)
    const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0)
    if (buf.length < end + 4 + len) return
    buf = buf.slice(end + 4 + len)
    const node = /x-node: *(\S+)/i.exec(head)?.[1] ?? '?'
    const w = waiting
    waiting = undefined
    w.resolve(node)
  }
  sock.on('data', c => {
    buf += c.toString('latin1')
    tryParse()
  })
  const fail = (e: Error): void => {
    const w = waiting
    waiting = undefined
    w?.reject(e)
  }
  sock.on('error', fail)
  sock.on('close', () => fail(new Error('connection closed')))
  return {
    ask() {
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject }
        sock.write(
          'GET / HTTP/1.1\r\nHost: vip\r\nConnection: keep-alive\r\n\r\n',
        )
      })
    },
    close() {
      sock.destroy()
    },
  }
}

/** Fetches the manager's /metrics text. */
export function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/metrics', agent: false },
      res => {
        let s = ''
        res.on('data', c => (s += c))
        res.on('end', () => resolve(s))
      },
    )
    req.on('error', reject)
    req.end()
  })
}
