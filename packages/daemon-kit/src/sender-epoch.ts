// Epochs for authenticated senders that never go backwards. Receivers keep
// a replay window per sender and drop any epoch older than the last one
// seen, so an epoch taken from the wall clock alone rejects a sender
// restarted after the clock stepped back, until the receiver restarts.
// senderEpoch() takes max(wall clock ms, last epoch + 1) and persists it
// (write to a temporary file, fsync, rename) before the sender uses it.
// Without a usable state file it falls back to the clock and says why.

import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { homedir } from 'node:os'

export interface SenderEpoch {
  /** Decimal ms-scale integer; larger than every epoch this file handed out before. */
  readonly epoch: number
  /** 'persisted': monotonic across restarts; 'clock': fallback, wall clock only. */
  readonly source: 'persisted' | 'clock'
  /** Why the state file was not used (log it as a warning). */
  readonly warning?: string
}

/**
 * Default state file: `$HAS_STATE_DIR/<name>/epoch` when set, else
 * /var/lib/has/<name>/epoch as root, else ~/.local/state/has/<name>/epoch.
 */
export function defaultEpochFile(
  name: string,
  uid: number = process.getuid?.() ?? -1,
): string {
  const base =
    process.env.HAS_STATE_DIR ??
    (uid === 0
      ? '/var/lib/has'
      : join(
          process.env.XDG_STATE_HOME ?? join(homedir(), '.local/state'),
          'has',
        ))
  return join(base, name, 'epoch')
}

/** Largest epoch handed out: stays an exact integer and within 16 digits. */
const MAX_EPOCH = Number.MAX_SAFE_INTEGER

/** Parses a state file's content; undefined when it is not one decimal integer. */
export function parseEpochState(text: string): number | undefined {
  const t = text.trim()
  if (!/^\d{1,16}$/.test(t)) return undefined
  const n = Number(t)
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * The epoch for this process start. Call once at start, before the first
 * datagram; the same sender must keep the returned value for its lifetime.
 */
export function senderEpoch(
  stateFile: string,
  now: () => number = Date.now,
): SenderEpoch {
  const clock = Math.floor(now())
  let last: number | undefined
  try {
    const text = readFileSync(stateFile, 'utf8')
    last = parseEpochState(text)
    if (last === undefined) {
      return {
        epoch: clock,
        source: 'clock',
        warning: `state file ${stateFile} is not one decimal integer; using the clock`,
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      return {
        epoch: clock,
        source: 'clock',
        warning: `state file ${stateFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; using the clock`,
      }
    }
  }
  const epoch = Math.min(MAX_EPOCH, Math.max(clock, (last ?? 0) + 1))
  try {
    mkdirSync(dirname(stateFile), { recursive: true, mode: 0o700 })
    const tmp = `${stateFile}.${process.pid}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, `${epoch}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, stateFile)
  } catch (e) {
    return {
      epoch,
      source: 'clock',
      warning: `state file ${stateFile} cannot be written (${(e as NodeJS.ErrnoException).code ?? String(e)}); the epoch may go backwards after a clock step`,
    }
  }
  return { epoch, source: 'persisted' }
}
