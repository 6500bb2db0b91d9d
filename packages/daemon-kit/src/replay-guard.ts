// Replay protection for authenticated datagrams. Every sender stamps an
// epoch (fixed per process start, increasing across restarts, e.g. the
// start time in ms) and a sequence number that grows by one per datagram.
// A sliding window, as IPsec uses, accepts late arrivals once and rejects
// duplicates and anything older than the window.

export type ReplayVerdict = 'ok' | 'replay' | 'stale' | 'restart'

const WINDOW = 64n

interface SenderState {
  epoch: number
  top: bigint
  mask: bigint
}

export class ReplayGuard {
  readonly #senders = new Map<string, SenderState>()

  /**
   * `ok` accept; `restart` accept, the sender has a new epoch; `replay` a
   * number seen before; `stale` an older epoch or behind the window.
   * Only `ok` and `restart` update state.
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
      st.mask = shift >= WINDOW ? 1n : ((st.mask << shift) | 1n) & ((1n << WINDOW) - 1n)
      st.top = s
      return 'ok'
    }
    const back = st.top - s
    if (back >= WINDOW) return 'stale'
    const bit = 1n << back
    if (st.mask & bit) return 'replay'
    st.mask |= bit
    return 'ok'
  }

  forget(sender: string): void {
    this.#senders.delete(sender)
  }
}
