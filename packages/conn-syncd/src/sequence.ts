// Loss detection per sender: sequence numbers grow by one per datagram
// within an epoch, so a jump of n means n-1 datagrams were lost. A new
// epoch means the sender restarted (and may need our table). Epochs are
// u64 on the wire, compared as bigint (no precision lost above 2^53).

export type SeqVerdict =
  | { readonly kind: 'first' }
  | { readonly kind: 'restart' }
  | { readonly kind: 'next'; readonly lost: number }
  | { readonly kind: 'old' }
  /** A sender never seen while `maxSenders` are remembered: dropped, state stays bounded. */
  | { readonly kind: 'full' }

/** Default bound on the senders remembered. */
export const MAX_SENDERS = 64

export class SequenceTracker {
  readonly #last = new Map<string, { epoch: bigint; seq: number }>()
  constructor(readonly maxSenders = MAX_SENDERS) {}

  observe(sender: string, epoch: bigint, seq: number): SeqVerdict {
    const st = this.#last.get(sender)
    if (!st) {
      if (this.#last.size >= this.maxSenders) return { kind: 'full' }
      this.#last.set(sender, { epoch, seq })
      return { kind: 'first' }
    }
    if (epoch > st.epoch) {
      this.#last.set(sender, { epoch, seq })
      return { kind: 'restart' }
    }
    if (epoch < st.epoch || seq <= st.seq) return { kind: 'old' }
    const lost = seq - st.seq - 1
    st.seq = seq
    return { kind: 'next', lost }
  }
}
