// Loss detection per sender: sequence numbers grow by one per datagram
// within an epoch, so a jump of n means n-1 datagrams were lost. A new
// epoch means the sender restarted (and may need our table).

export type SeqVerdict =
  | { readonly kind: 'first' }
  | { readonly kind: 'restart' }
  | { readonly kind: 'next'; readonly lost: number }
  | { readonly kind: 'old' }

export class SequenceTracker {
  readonly #last = new Map<string, { epoch: number; seq: number }>()

  observe(sender: string, epoch: number, seq: number): SeqVerdict {
    const st = this.#last.get(sender)
    if (!st) {
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
