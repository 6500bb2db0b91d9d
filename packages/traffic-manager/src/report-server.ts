// The UDP socket load reports arrive on. Everything it receives goes to
// the handler as raw bytes; parsing and checks live in live-table.ts.

import { isIP } from 'node:net'
import type { RemoteInfo } from 'node:dgram'
import DgramAsPromised from 'dgram-as-promised'
import { formatHostPort } from '@has/daemon-kit/core'
import { tmError } from './errors.js'
import { REPORT_MAX_BYTES } from './report-protocol.js'

export interface ReportServer {
  readonly address: { host: string; port: number }
  close(): Promise<void>
}

export async function startReportServer(
  listen: string,
  port: number,
  onDatagram: (msg: Buffer, from: RemoteInfo) => void,
): Promise<ReportServer> {
  const sock = DgramAsPromised.createSocket({
    type: isIP(listen) === 6 ? 'udp6' : 'udp4',
    // Reports are tiny; a bigger receive buffer absorbs bursts from many nodes.
    recvBufferSize: 256 * REPORT_MAX_BYTES,
  })
  sock.socket.on('message', onDatagram)
  let addr
  try {
    addr = await sock.bind(port, listen)
  } catch (e) {
    throw tmError(
      'TM_ERR_LISTEN',
      formatHostPort({ host: listen, port }),
      (e as Error).message,
      e,
    )
  }
  return {
    address: { host: addr.address, port: addr.port },
    close: () => sock.close(),
  }
}
