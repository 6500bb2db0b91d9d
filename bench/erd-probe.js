// Probe for bench/erd.js. `send <host> <port>`: one small UDP datagram per
// millisecond (at most 10 minutes). `recv <port>`: timestamps arrivals with
// the monotonic clock and answers `mark` / `report` lines on stdin with the
// longest silence since the mark, as JSON on stdout.
import { createSocket } from 'node:dgram'
import { createInterface } from 'node:readline'

const [mode, a, b] = process.argv.slice(2)
const now = () => Number(process.hrtime.bigint()) / 1e6 // ms, CLOCK_MONOTONIC

if (mode === 'send') {
  const sock = createSocket(a.includes(':') ? 'udp6' : 'udp4')
  const payload = Buffer.alloc(64)
  const timer = setInterval(() => sock.send(payload, Number(b), a, () => {}), 1)
  setTimeout(() => {
    clearInterval(timer)
    sock.close()
  }, 600_000).unref()
} else {
  const sock = createSocket('udp4')
  let last = 0
  let count = 0
  let gap = { ms: 0, from: 0, to: 0 }
  sock.on('message', () => {
    const t = now()
    if (last && t - last > gap.ms) gap = { ms: t - last, from: last, to: t }
    if (last && t - last > 20 && process.env.ERD_PROBE_GAPS) {
      process.stdout.write(
        JSON.stringify({
          event: 'gap',
          ms: t - last,
          at: new Date().toISOString(),
        }) + '\n',
      )
    }
    last = t
    count++
  })
  sock.bind(Number(a), () =>
    process.stdout.write(JSON.stringify({ event: 'listening' }) + '\n'),
  )
  createInterface({ input: process.stdin }).on('line', line => {
    if (line === 'mark') {
      gap = { ms: 0, from: 0, to: 0 }
      count = 0
    }
    process.stdout.write(
      JSON.stringify({ event: line, gap, count, last, now: now() }) + '\n',
    )
  })
}
