// One persistent connection to BIRD's control socket; commands run one at
// a time in order (the protocol has no request ids). Connects lazily and
// again after any close; a timeout or an unparsable line drops the
// connection, since request and reply would no longer be in step.

import { connect, type Socket } from 'node:net'
import {
  BirdReplyParser,
  BirdSyntaxError,
  type BirdReply,
} from './bird-codec.js'
import { vaError } from './errors.js'

export interface BirdClient {
  /** Sends one command line (with its newline) and resolves with BIRD's reply. */
  command(line: string): Promise<BirdReply>
  readonly connected: boolean
  close(): void
}

export function createBirdClient(opts: {
  path: string
  timeoutMs: number
}): BirdClient {
  let socket: Socket | undefined
  let ready: Promise<void> | undefined
  let parser = new BirdReplyParser()
  // Waiters in send order; the first one is the welcome banner's.
  let waiting: { resolve(r: BirdReply): void; reject(e: Error): void }[] = []
  let chain: Promise<unknown> = Promise.resolve()

  const fail = (e: Error): void => {
    const w = waiting
    waiting = []
    socket?.destroy()
    socket = undefined
    ready = undefined
    for (const x of w) x.reject(e)
  }

  const open = (): Promise<void> => {
    if (ready) return ready
    parser = new BirdReplyParser()
    const s = connect(opts.path)
    socket = s
    s.setEncoding('utf8')
    s.on('data', (chunk: string) => {
      let replies: BirdReply[]
      try {
        replies = parser.push(chunk)
      } catch (e) {
        fail(vaError('VA_ERR_BIRD_SYNTAX', (e as BirdSyntaxError).message))
        return
      }
      for (const r of replies) waiting.shift()?.resolve(r)
    })
    s.on('error', e =>
      fail(vaError('VA_ERR_BIRD_UNREACHABLE', opts.path, e.message, e)),
    )
    s.on('close', () => {
      if (socket === s)
        fail(vaError('VA_ERR_BIRD_UNREACHABLE', opts.path, 'connection closed'))
    })
    ready = expect('welcome').then(r => {
      if (r.code !== 1)
        throw vaError(
          'VA_ERR_BIRD_SYNTAX',
          `expected the 0001 welcome, got ${r.code} ${r.text}`,
        )
    })
    ready.catch(() => undefined)
    return ready
  }

  const expect = (what: string): Promise<BirdReply> =>
    new Promise<BirdReply>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(vaError('VA_ERR_BIRD_TIMEOUT', what, opts.timeoutMs)),
        opts.timeoutMs,
      )
      waiting.push({
        resolve: r => (clearTimeout(timer), resolve(r)),
        reject: e => (clearTimeout(timer), reject(e)),
      })
    })

  const run = async (line: string): Promise<BirdReply> => {
    await open()
    const s = socket
    if (!s)
      throw vaError('VA_ERR_BIRD_UNREACHABLE', opts.path, 'connection closed')
    const reply = expect(line.trim())
    s.write(line)
    return reply
  }

  return {
    command(line) {
      const p = chain.then(() => run(line))
      chain = p.catch(() => undefined)
      return p
    },
    get connected() {
      return socket !== undefined && !socket.connecting && !socket.destroyed
    },
    close() {
      fail(vaError('VA_ERR_BIRD_UNREACHABLE', opts.path, 'client closed'))
    },
  }
}
