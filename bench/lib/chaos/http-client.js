// The chaos clients' HTTP/1.1 exchange and connect, apart from the load
// loop so a test can drive them against a real server.
import { connect } from 'node:net'

const request = close =>
  Buffer.from(
    `GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n${close ? 'Connection: close\r\n' : ''}\r\n`,
  )

/**
 * One exchange on a connected socket. Resolves 'ok', 'idle-closed' (the
 * server had closed the connection before anything was sent), or a failure
 * reason: an error code, 'closed', 'timeout', 'no-length', 'status-NNN',
 * 'bad-content'.
 */
export function httpExchange(sock, { close, expectBody, timeoutMs }) {
  return new Promise(resolve => {
    let buf = Buffer.alloc(0)
    let done = false
    let timer
    const finish = r => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.off('data', onData)
      sock.off('error', onErr)
      sock.off('close', onClose)
      resolve(r)
    }
    const onData = c => {
      buf = Buffer.concat([buf, c])
      const h = buf.indexOf('\r\n\r\n')
      if (h < 0) return
      const head = buf.subarray(0, h).toString()
      const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? -1)
      if (len < 0) return finish('no-length')
      if (buf.length < h + 4 + len) return
      if (!/^HTTP\/1\.1 200 /.test(head))
        return finish(`status-${head.slice(9, 12)}`)
      finish(
        buf.subarray(h + 4, h + 4 + len).equals(expectBody)
          ? 'ok'
          : 'bad-content',
      )
    }
    const onErr = e => finish(e.code ?? 'error')
    const onClose = () => finish('closed')
    // Closed by the server while idle (nginx restarted, node drained): every
    // HTTP client sees that and opens a new connection instead of sending.
    // Node reports a write to such a socket only to the write callback, never
    // as an 'error' event: unchecked, it waited out the timeout (finding L).
    if (sock.destroyed || !sock.writable) return finish('idle-closed')
    timer = setTimeout(() => finish('timeout'), timeoutMs)
    sock.on('data', onData)
    sock.on('error', onErr)
    sock.on('close', onClose)
    sock.write(request(close), err => {
      if (err) finish(err.code ?? 'error')
    })
  })
}

/** Connects to host:port; resolves { s } or { err }. */
export function openConnection(host, timeoutMs, port = 80) {
  return new Promise(resolve => {
    const s = connect({ host, port })
    const timer = setTimeout(() => {
      s.destroy()
      resolve({ err: 'connect-timeout' })
    }, timeoutMs)
    s.once('connect', () => {
      clearTimeout(timer)
      resolve({ s })
    })
    s.once('error', e => {
      clearTimeout(timer)
      resolve({ err: e.code ?? 'error' })
    })
  })
}
