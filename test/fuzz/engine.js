// A small seeded mutation fuzzer for has's parsers and codecs (plain JS so
// both the tap test and `node bench/fuzz.js` use it without a build step).
// A finding is: an exception other than the target's documented error
// type, a single input under 64 kB taking over 100 ms (a hang), or time
// growing faster than linear on inputs built from a repeated piece.

/** mulberry32: tiny, fast, seeded; the same seed gives the same inputs. */
export function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Pieces that break hand-written parsers: separators, quoting, escapes,
// prototype names used as lookup keys, numbers at type limits.
const TOKENS = [
  '\n', '\r', '\r\n', '\\', '\\\n', '"', "'", '#', '=', ' ', '\t', '\0', ':', '/', '[', ']',
  '__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty',
  '-1', '0', '4294967296', '18446744073709551616', '9007199254740993', 'NaN', '1e309',
  '::', '::1', '127.0.0.1', 'ff02::1', '0x', 'é', '\u2028', '\uffff',
]

/** One mutation of `input` (a Buffer); `pool` supplies splice partners. */
export function mutate(input, rand, pool) {
  const b = Buffer.from(input)
  const pick = n => Math.floor(rand() * n)
  const at = () => pick(b.length + 1)
  switch (pick(9)) {
    case 0: // flip a bit
      if (b.length) b[pick(b.length)] ^= 1 << pick(8)
      return b
    case 1: { // random byte
      if (b.length) b[pick(b.length)] = pick(256)
      return b
    }
    case 2: { // delete a range
      const i = at()
      return Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + pick(8))])
    }
    case 3: { // insert a token
      const i = at()
      return Buffer.concat([b.subarray(0, i), Buffer.from(TOKENS[pick(TOKENS.length)]), b.subarray(i)])
    }
    case 4: { // duplicate a chunk
      const i = at()
      const j = Math.min(b.length, i + 1 + pick(32))
      return Buffer.concat([b.subarray(0, j), b.subarray(i, j), b.subarray(j)])
    }
    case 5: { // splice with another corpus entry
      const o = pool[pick(pool.length)]
      const i = at()
      return Buffer.concat([b.subarray(0, i), o.subarray(pick(o.length + 1))])
    }
    case 6: { // a long run of one character (backtracking, quadratic loops)
      const i = at()
      const c = ' \t\\#/=\r'[pick(7)]
      return Buffer.concat([b.subarray(0, i), Buffer.from(c.repeat(1 + pick(2000))), b.subarray(i)])
    }
    case 7: { // replace a word by a token
      const s = b.toString('latin1').split(' ')
      if (s.length) s[pick(s.length)] = TOKENS[pick(TOKENS.length)]
      return Buffer.from(s.join(' '), 'latin1')
    }
    default: // truncate
      return b.subarray(0, at())
  }
}

/** True when `e` is the documented error type of `target`. */
export function documented(target, e) {
  if (e && typeof e === 'object') {
    if (typeof e.code === 'string' && /^[A-Z]+_ERR_[A-Z0-9_]+$/.test(e.code)) return true
    if ((target.errorNames ?? []).includes(e.name)) return true
  }
  return false
}

const HANG_MS = 100
const HANG_MAX_INPUT = 64 * 1024

/**
 * Runs `count` mutated inputs through `target`; returns the findings (at
 * most `maxFindings` distinct ones, each with a reproducer), how many
 * inputs ran and how many of them crashed or were slow.
 */
export function fuzzTarget(target, { seed = 1, count = 1000, maxFindings = 5, deadlineMs = Infinity, onInput } = {}) {
  const rand = rng(seed)
  const pool = target.corpus.map(c => Buffer.from(c))
  const findings = []
  const seen = new Set()
  const end = Date.now() + deadlineMs
  let ran = 0
  let crashes = 0
  let hangs = 0
  const run = input => {
    ran++
    onInput?.(input, ran)
    const t0 = performance.now()
    try {
      target.run(input)
    } catch (e) {
      if (!documented(target, e)) {
        const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
        // One finding per kind of failure: quoted input and numbers vary.
        const sig = `throw ${msg.replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 80)}`
        crashes++
        if (!seen.has(sig) && findings.length < maxFindings) {
          seen.add(sig)
          findings.push({ kind: 'crash', message: msg, input: input.toString('base64'), stack: e?.stack?.split('\n').slice(0, 4).join(' | ') })
        }
      }
    }
    let ms = performance.now() - t0
    // Confirm before reporting: the machine is shared, a GC or another
    // process can stall one run. The fastest of three must be slow too.
    for (let r = 0; r < 2 && ms > HANG_MS; r++) {
      const t1 = performance.now()
      try { target.run(input) } catch { /* reported above */ }
      ms = Math.min(ms, performance.now() - t1)
    }
    if (ms > HANG_MS) hangs++
    if (ms > HANG_MS && input.length < HANG_MAX_INPUT && !seen.has('hang') && findings.length < maxFindings) {
      seen.add('hang')
      findings.push({ kind: 'hang', message: `${ms.toFixed(0)} ms on ${input.length} bytes`, input: input.toString('base64') })
    }
  }
  for (const c of pool) run(c)
  let cur = pool[0]
  // All `count` inputs run even after findings (the count is the claim);
  // only the first `maxFindings` distinct ones are kept.
  for (let i = 0; i < count && Date.now() < end; i++) {
    // Mostly mutate a corpus entry; sometimes keep mutating the last input.
    cur = mutate(rand() < 0.7 ? pool[Math.floor(rand() * pool.length)] : cur, rand, pool)
    if (cur.length >= HANG_MAX_INPUT) cur = cur.subarray(0, HANG_MAX_INPUT - 1)
    run(cur)
  }
  return { ran, findings, crashes, hangs }
}

/**
 * Growth check: times `target` on prefix + piece×n + suffix for n and 8n.
 * Linear work grows ×8; flags a ratio over 32 (quadratic would be ×64).
 * `onInput` sees each input before it runs (the bench's watchdog).
 */
export function growth(target, { piece, prefix = '', suffix = '', n = 2000 }, onInput) {
  const time = k => {
    const input = Buffer.from(prefix + piece.repeat(k) + suffix)
    let best = Infinity
    for (let r = 0; r < 5; r++) {
      onInput?.(input)
      const t0 = performance.now()
      try { target.run(input) } catch { /* errors are not the point here */ }
      best = Math.min(best, performance.now() - t0)
    }
    return best
  }
  const measure = () => {
    const small = Math.max(time(n), 1) // below 1 ms timer noise dominates
    const big = time(n * 8)
    return { small, big, ratio: big / small, superlinear: big > 30 && big / small > 32 }
  }
  // A shared, loaded machine can stall any run: confirm before reporting.
  const first = measure()
  return first.superlinear ? measure() : first
}
