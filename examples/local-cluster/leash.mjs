// Preloaded into every process the demo starts (node --import leash.mjs):
// the demo holds the write end of this process's stdin pipe and never
// writes. When the demo dies, however it dies (SIGKILL included), the
// kernel closes that end and stdin reads EOF; then this process stops
// itself: SIGTERM for a graceful stop, a hard exit if that takes too long.
// Like PR_SET_PDEATHSIG, without native code.
if (!process.stdin.isTTY) {
  const stop = () => {
    setTimeout(() => process.exit(1), 3000).unref()
    process.kill(process.pid, 'SIGTERM')
  }
  process.stdin.once('end', stop)
  process.stdin.once('error', stop)
  process.stdin.resume()
  // Waiting for EOF must not keep an otherwise finished process alive.
  process.stdin.unref?.()
}
