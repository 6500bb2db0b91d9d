// UDP sockets for the heartbeat paths: one receive socket per port (joined
// to the multicast groups; two sockets on one port would each get every
// broadcast), one send socket per path bound to the path's local address
// so the datagram leaves through that interface.

import DgramAsPromised, { type SocketAsPromised } from 'dgram-as-promised'
import type { Logger } from '@has/daemon-kit'
import { hbError } from './errors.js'
import type { PathSpec } from './paths.js'

export interface Transport {
  /** Sends on every path the datagram `bufFor(path)` gives; resolves to the paths that failed. */
  sendAll(
    bufFor: (p: PathSpec) => Buffer,
  ): Promise<{ path: PathSpec; err: Error }[]>
  close(): Promise<void>
}

export async function openTransport(opts: {
  paths: readonly PathSpec[]
  onDatagram: (msg: Buffer, source: string) => void
  logger: Logger
}): Promise<Transport> {
  const receivers = new Map<number, SocketAsPromised>()
  const senders: { path: PathSpec; sock: SocketAsPromised }[] = []
  const all = (): SocketAsPromised[] => [
    ...receivers.values(),
    ...senders.map(s => s.sock),
  ]
  try {
    for (const p of opts.paths) {
      let r = receivers.get(p.port)
      if (!r) {
        r = DgramAsPromised.createSocket({ type: 'udp4', reuseAddr: true })
        r.socket.on('message', (msg, rinfo) =>
          opts.onDatagram(msg, rinfo.address),
        )
        r.socket.on('error', err =>
          opts.logger.warn({ err }, 'receive socket error'),
        )
        await r.bind(p.port).catch((e: Error) => {
          throw hbError('HB_ERR_BIND', `0.0.0.0:${p.port}`, e.message, e)
        })
        receivers.set(p.port, r)
      }
      if (p.group) {
        r.addMembership(p.group, p.localAddr)
        r.setMulticastLoopback(p.loop)
      }
      const s = DgramAsPromised.createSocket({ type: 'udp4' })
      s.socket.on('error', err =>
        opts.logger.debug({ err, path: p.name }, 'send socket error'),
      )
      await s.bind(0, p.localAddr).catch((e: Error) => {
        throw hbError('HB_ERR_BIND', `${p.localAddr}:0`, e.message, e)
      })
      if (p.kind === 'bcast') s.setBroadcast(true)
      if (p.kind === 'mcast') {
        s.setMulticastInterface(p.localAddr)
        s.setMulticastTTL(p.ttl)
        s.setMulticastLoopback(p.loop)
      }
      senders.push({ path: p, sock: s })
    }
  } catch (e) {
    await Promise.allSettled(all().map(s => s.close()))
    throw e
  }
  return {
    async sendAll(bufFor) {
      const failed: { path: PathSpec; err: Error }[] = []
      await Promise.all(
        senders.map(({ path, sock }) =>
          sock
            .send(bufFor(path), path.port, path.dest)
            .catch((err: Error) => void failed.push({ path, err })),
        ),
      )
      return failed
    },
    async close() {
      await Promise.allSettled(all().map(s => s.close()))
    },
  }
}
