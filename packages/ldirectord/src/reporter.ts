// Sends signed load reports (traffic-manager's LOAD datagram) to every
// configured traffic-manager. UDP: loss is repaired by re-sending while
// the state lasts, never by waiting for an answer.

import { isIP } from 'node:net'
import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised'
import { formatHostPort, type HostPort, type Logger } from '@has/daemon-kit'
import { formatReport, type ReportState } from '@has/traffic-manager/protocol'

export interface ReporterOptions {
  readonly node: string
  readonly targets: readonly HostPort[]
  readonly key?: string
  readonly logger: Logger
  /** Sender start time (ms): the report epoch. */
  readonly epoch: number
  readonly onSent?: (target: string, ok: boolean) => void
}

export class Reporter {
  private seq = 0
  private readonly sockets = new Map<4 | 6, SocketAsPromised>()
  constructor(private readonly opts: ReporterOptions) {}

  private socket(family: 4 | 6): SocketAsPromised {
    let s = this.sockets.get(family)
    if (!s) {
      s = DgramAsPromised.createSocket(family === 6 ? 'udp6' : 'udp4')
      s.unref()
      this.sockets.set(family, s)
    }
    return s
  }

  /** One datagram to every target; per-target failures are logged only. */
  async send(state: ReportState, load: number): Promise<void> {
    const line = formatReport(
      {
        node: this.opts.node,
        load,
        state,
        sender: 'ld',
        epoch: this.opts.epoch,
        seq: ++this.seq,
      },
      this.opts.key,
    )
    await Promise.all(
      this.opts.targets.map(async t => {
        const name = formatHostPort(t)
        try {
          await this.socket(isIP(t.host) === 6 ? 6 : 4).send(
            line,
            t.port,
            t.host,
          )
          this.opts.onSent?.(name, true)
        } catch (err) {
          this.opts.onSent?.(name, false)
          this.opts.logger.warn({ err, target: name }, 'load report not sent')
        }
      }),
    )
  }

  async close(): Promise<void> {
    for (const s of this.sockets.values())
      await s.close().catch(() => undefined)
    this.sockets.clear()
  }
}
