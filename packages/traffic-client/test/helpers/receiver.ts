// A stand-in traffic-manager socket for tests: binds port 0 on loopback
// and hands out parsed datagrams in arrival order, waiting on events.
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import {
  parseReport,
  verifyReport,
  type LoadReport,
} from '@has/traffic-manager/protocol'

export interface Received {
  readonly report: LoadReport
  readonly macOk: boolean
  readonly line: string
  /** The datagram's source address and port. */
  readonly from: string
  readonly fromPort: number
}

export class Receiver {
  readonly socket: Socket
  readonly got: Received[] = []
  #read = 0
  #waiters: (() => void)[] = []
  readonly #key: string | undefined

  private constructor(socket: Socket, key?: string) {
    this.socket = socket
    this.#key = key
    socket.on('message', (msg, rinfo) => {
      const p = parseReport(msg)
      if (!p.ok) throw new Error(`malformed report: ${msg.toString()}`)
      this.got.push({
        report: p.report,
        macOk: this.#key ? verifyReport(p, this.#key) : p.mac === undefined,
        line: msg.toString(),
        from: rinfo.address,
        fromPort: rinfo.port,
      })
      for (const w of this.#waiters.splice(0)) w()
    })
  }

  static async open(host = '127.0.0.1', key?: string): Promise<Receiver> {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    s.bind(0, host)
    await once(s, 'listening')
    return new Receiver(s, key)
  }

  get port(): number {
    return this.socket.address().port
  }

  /** The next datagram not yet returned (waits for it). */
  async next(timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs
    while (this.#read >= this.got.length) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('no datagram in time')
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => (clearTimeout(timer), resolve()))
      })
    }
    return this.got[this.#read++] as Received
  }

  /** Skips to the first future datagram matching pred. */
  async until(
    pred: (r: Received) => boolean,
    timeoutMs = 10_000,
  ): Promise<Received> {
    for (;;) {
      const r = await this.next(timeoutMs)
      if (pred(r)) return r
    }
  }

  close(): void {
    this.socket.close()
  }
}
