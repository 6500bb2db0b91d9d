// The long-lived announcer (libexec/erd-announce): started with erd, so a
// switch sends its gratuitous ARPs and unsolicited NAs with a pipe write
// instead of starting arping and perl. On a loaded host those starts took
// up to a second, and until the first frame leaves the new port the
// switches keep sending the node's traffic to the dead one (chaos finding
// D). One request line at a time: `DEV ADDRESS...` → `ok N` | `err TEXT`.

import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LineSplitter } from '@has/daemon-kit'

/** The helper shipped in this package (libexec/ next to dist/ and src/). */
export const ANNOUNCER = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'libexec',
  'erd-announce',
)

export interface AnnounceResult {
  readonly sent: number
  /** Set when some or all frames were not sent (the caller falls back). */
  readonly error?: string
}

export class Announcer {
  #child: ChildProcess | undefined
  #waiter: ((line: string) => void) | undefined
  #tail: Promise<unknown> = Promise.resolve()

  constructor(private readonly argv: readonly string[] = ['perl', ANNOUNCER]) {
    // Started at once: the first switch must not pay for it.
    this.#start()
  }

  #start(): ChildProcess {
    const child = spawn(this.argv[0] as string, this.argv.slice(1), {
      stdio: ['pipe', 'pipe', 'ignore'],
    })
    const splitter = new LineSplitter(
      1 << 16,
      line => this.#waiter?.(line),
      () => {},
    )
    child.stdout?.on('data', (c: Buffer) => splitter.push(c))
    const gone = (why: string): void => {
      if (this.#child === child) this.#child = undefined
      this.#waiter?.(`\0${why}`)
    }
    child.once('error', e =>
      gone(`cannot start ${this.argv.join(' ')}: ${e.message}`),
    )
    child.once('exit', (code, signal) =>
      gone(`announcer exited (${signal ?? code})`),
    )
    child.stdin?.on('error', () => {})
    this.#child = child
    return child
  }

  /** One round: a frame per address out of `dev`; serialised, in call order. */
  announce(dev: string, addresses: readonly string[]): Promise<AnnounceResult> {
    const next = this.#tail.then(() => this.#announce(dev, addresses))
    this.#tail = next
    return next
  }

  #announce(
    dev: string,
    addresses: readonly string[],
  ): Promise<AnnounceResult> {
    const child = this.#child ?? this.#start()
    return new Promise(resolve => {
      // A stuck helper must not hold later rounds: give up, restart it next time.
      const timer = setTimeout(() => {
        this.#waiter?.('\0announcer did not answer within 2 s')
        if (this.#child === child) this.#child = undefined
        child.kill('SIGKILL')
      }, 2000)
      timer.unref()
      this.#waiter = line => {
        clearTimeout(timer)
        this.#waiter = undefined
        const ok = /^ok (\d+)$/.exec(line)
        if (ok) resolve({ sent: Number(ok[1]) })
        else if (line.startsWith('\0'))
          resolve({ sent: 0, error: line.slice(1) })
        else
          resolve({
            sent: Number(/\((\d+) sent\)$/.exec(line)?.[1] ?? 0),
            error: line.replace(/^err /, ''),
          })
      }
      child.stdin?.write(`${[dev, ...addresses].join(' ')}\n`)
    })
  }

  close(): void {
    const c = this.#child
    this.#child = undefined
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
  }
}
