// One long-lived stream client of the chaos load (bench/lib/chaos/load.js):
// a TCP connection carrying a request every period for its life, then a new
// one. Apart from the load loop so a test can drive it against a real server.
//
// A stream is lost at its first failed request, or when the server closes
// its connection between two requests (nginx killed). In the second case
// the request was never sent, so it has not failed: the client sends it on
// a new stream at once, as any HTTP client does with a persistent
// connection the server closed (RFC 9112, 9.3.1), and as the keep-alive
// clients do (finding L). The loss is recorded with `request: false`; the
// report keeps a strict figure that counts it as a failed request too
// (finding M).

/**
 * env: open() -> {s}|{err}; exchange(s) -> reason ('ok', 'idle-closed' or a
 * failure); sleep(ms); count(kind, ok, reason, socket?); lost({ageMs, bornAt, reason,
 * request}); opened(); ended(); stopping() -> bool; lifeMs() -> ms;
 * periodMs (1000); retryMs (1000); now (Date.now).
 */
export async function streamClient(env) {
  const period = env.periodMs ?? 1000
  const retry = env.retryMs ?? 1000
  const now = env.now ?? Date.now
  while (!env.stopping()) {
    const r = await env.open()
    if (r.err) {
      env.count('stream', false, r.err)
      await env.sleep(retry)
      continue
    }
    const s = r.s
    s.on('error', () => {})
    const born = now()
    const life = env.lifeMs()
    env.opened()
    let lost = false
    while (!env.stopping() && now() - born < life) {
      const x = await env.exchange(s)
      if (x === 'idle-closed') {
        env.lost({
          ageMs: now() - born,
          bornAt: born,
          reason: 'closed',
          request: false,
        })
        lost = true
        break
      }
      env.count('stream', x === 'ok', x, s)
      if (x !== 'ok') {
        env.lost({
          ageMs: now() - born,
          bornAt: born,
          reason: x,
          request: true,
        })
        lost = true
        break
      }
      await env.sleep(period)
    }
    if (!lost) env.ended()
    s.destroy()
  }
}
