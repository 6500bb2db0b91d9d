// Listening on a socket this process inherited (socket activation) rather
// than binding. `server.listen({ fd })` would not do in a proxy worker: it
// routes through node:cluster's primary, which closes the fd once its last
// worker is gone, so a replaced worker could not listen again. Instead the
// worker wraps its own copy of the fd (passed at fork) in a TCP handle and
// listens on that handle directly.

import { Socket, type Server } from 'node:net'

export function listenOnFd(
  server: Server,
  fd: number,
  backlog: number,
  cb: () => void,
): void {
  // Neither read nor written: only its handle is wanted (reading a listening
  // socket would fail and close it).
  const s = new Socket({ fd, readable: false, writable: false })
  const handle = (s as unknown as { _handle: object })._handle
  server.listen(handle, backlog, cb)
}
