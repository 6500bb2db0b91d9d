// Reads of /sys/class/net/<if>/<attr> for the carrier poll, which runs
// every poll_interval for the daemon's life. Each file is opened once and
// re-read with pread at offset 0 (sysfs regenerates the value on every
// read from the start): one syscall per sample, no thread-pool round trip,
// no open/close. Synchronous on purpose: sysfs answers from memory.

import { closeSync, openSync, readSync } from 'node:fs'

export class SysfsReader {
  readonly #root: string
  readonly #fds = new Map<string, number>()
  readonly #buf = Buffer.alloc(64)

  constructor(root = '/sys/class/net') {
    this.#root = root
  }

  /**
   * The attribute's text, trimmed; '' when the kernel refuses to say
   * (EINVAL: carrier of an administratively down link); undefined when
   * the interface does not exist.
   */
  read(ifname: string, attr: string): string | undefined {
    const path = `${this.#root}/${ifname}/${attr}`
    for (let tries = 0; tries < 2; tries++) {
      let fd = this.#fds.get(path)
      try {
        if (fd === undefined) {
          fd = openSync(path, 'r')
          this.#fds.set(path, fd)
        }
        const n = readSync(fd, this.#buf, 0, this.#buf.length, 0)
        return this.#buf.toString('utf8', 0, n).trim()
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EINVAL') return ''
        if (fd === undefined) return undefined
        // A held file of a deleted interface (ENODEV): reopen by name once.
        this.#drop(path)
      }
    }
    return undefined
  }

  /**
   * Closes every held file, so the next read opens by name again: called
   * on link events, since a renamed interface keeps its sysfs files.
   */
  forget(): void {
    for (const path of [...this.#fds.keys()]) this.#drop(path)
  }

  #drop(path: string): void {
    const fd = this.#fds.get(path)
    this.#fds.delete(path)
    if (fd !== undefined) {
      try {
        closeSync(fd)
      } catch {
        // already gone
      }
    }
  }
}
