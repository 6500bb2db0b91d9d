// Framing for the line protocols that run over TCP streams: chunks in,
// complete lines out, with a hard limit so a peer that never sends a
// newline cannot grow our memory without bound.

import { StringDecoder } from 'node:string_decoder'

export type LineHandler = (line: string) => void

export class LineSplitter {
  #buf = ''
  // A UTF-8 character split across two reads is decoded whole.
  readonly #decoder = new StringDecoder('utf8')
  readonly maxLine: number
  readonly #onLine: LineHandler
  readonly #onOverflow: () => void

  constructor(maxLine: number, onLine: LineHandler, onOverflow: () => void) {
    this.maxLine = maxLine
    this.#onLine = onLine
    this.#onOverflow = onOverflow
  }

  /** Feeds a chunk; calls onLine for each full line (CR LF or LF, no terminator). */
  push(chunk: Buffer | string): void {
    this.#buf += typeof chunk === 'string' ? chunk : this.#decoder.write(chunk)
    let nl: number
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      let line = this.#buf.slice(0, nl)
      this.#buf = this.#buf.slice(nl + 1)
      if (line.endsWith('\r')) line = line.slice(0, -1)
      if (line.length > this.maxLine) {
        this.#onOverflow()
        continue
      }
      this.#onLine(line)
    }
    if (this.#buf.length > this.maxLine) {
      this.#buf = ''
      this.#onOverflow()
    }
  }

  /** Characters held waiting for a newline. */
  get pending(): number {
    return this.#buf.length
  }
}
