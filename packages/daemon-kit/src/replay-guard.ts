// Replay protection for authenticated datagrams. Every sender stamps an
// epoch (fixed per process start, increasing across restarts, e.g. the
// start time in ms) and a sequence number that grows by one per datagram.
// A sliding window, as IPsec uses, accepts late arrivals once and rejects
// duplicates and anything older than the window. The window is WINDOW (64)
// numbers wide: the newest seq and the 63 before it. A seq 64 or more
// behind the newest is `stale` (one bit per number, so 64 bits hold 0..63). A late arrival is told
// apart (`late`): a datagram that carries a snapshot (a load report) must
// not roll back a newer one, while one that carries an event may apply.

export type ReplayVerdict = 'ok' | 'late' | 'replay' | 'stale' | 'restart'

export const REPLAY_WINDOW = 64
const WINDOW = BigInt(REPLAY_WINDOW)

interface SenderState {
  epoch: number
  top: bigint
  mask: bigint
}

export class ReplayGuard {
  readonly #senders = new Map<string, SenderState>()

  /**
   * `ok` the newest yet; `late` unseen but older than the newest (within
   * the window; marked seen); `restart` the sender has a new epoch;
   * `replay` a number seen before; `stale` an older epoch or 64 or more
   * behind the newest (outside the window). `replay` and `stale` change nothing.
   */
  check(sender: string, epoch: number, seq: number): ReplayVerdict {
    const s = BigInt(seq)
    const st = this.#senders.get(sender)
    if (!st || epoch > st.epoch) {
      this.#senders.set(sender, { epoch, top: s, mask: 1n })
      return st ? 'restart' : 'ok'
    }
    if (epoch < st.epoch) return 'stale'
    if (s > st.top) {
      const shift = s - st.top
      st.mask =
        shift >= WINDOW ? 1n : ((st.mask << shift) | 1n) & ((1n << WINDOW) - 1n)
      st.top = s
      return 'ok'
    }
    const back = st.top - s
    if (back >= WINDOW) return 'stale'
    const bit = 1n << back
    if (st.mask & bit) return 'replay'
    st.mask |= bit
    return 'late'
  }

  forget(sender: string): void {
    this.#senders.delete(sender)
  }
}
