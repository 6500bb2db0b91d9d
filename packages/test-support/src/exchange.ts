// One request on its own connection, the whole answer back: how tests
// speak a documented line protocol byte for byte (a control socket, an
// agent-check port). Bounded: a server that never closes fails the wait
// with a message naming what was sent.

import { connect, type NetConnectOpts } from 'node:net'
import { within } from './wait-for.js'

/**
 * Connects to `to` (a Unix socket path or connect options), writes `bytes`
 * exactly (none: only listens), and resolves with everything read until
 * the server ends the connection.
 */
export function exchange(
  to: string | NetConnectOpts,
  bytes?: string,
  timeoutMs = 10_000,
): Promise<string> {
  const sock = connect(typeof to === 'string' ? { path: to } : to)
  const chunks: Buffer[] = []
  sock.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise<string>((resolve, reject) => {
    sock.once('error', reject)
    sock.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
  if (bytes !== undefined) sock.write(bytes)
  const what =
    bytes === undefined
      ? 'the server to answer and close'
      : `the answer to ${JSON.stringify(bytes.slice(0, 40))}`
  return within(done, timeoutMs, what).finally(() => sock.destroy())
}
