#!/usr/bin/env node
// Capacity-limited web servers for benchmarks: one process hosts many
// nodes; each answers after a fixed service time and serves at most
// `concurrency` requests at once (the rest queue), so a node's capacity is
// concurrency / service time (e.g. 4 / 10 ms = 400 requests/s), as the
// thesis's Apache nodes saturated at about 1,000 requests/s.
//   node capacity-server.js --service-ms 10 127.0.0.21:8080:4 127.0.0.22:8080:8
import { createServer } from 'node:http'

const args = process.argv.slice(2)
let serviceMs = 10
const specs = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--service-ms') serviceMs = Number(args[++i])
  else specs.push(args[i])
}
let ready = 0
for (const spec of specs) {
  const [host, port, conc] = spec.split(':')
  const limit = Number(conc)
  const body = Buffer.from(`${host}\n`)
  let busy = 0
  const queue = []
  const answer = res => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': body.length,
      'x-node': host,
    })
    res.end(body)
  }
  const serve = res => {
    busy++
    setTimeout(() => {
      if (!res.destroyed) answer(res)
      busy--
      const next = queue.shift()
      if (next) serve(next)
    }, serviceMs)
  }
  const server = createServer((req, res) => {
    req.resume()
    if (busy < limit) serve(res)
    else queue.push(res)
  })
  server.keepAliveTimeout = 60_000
  server.listen(Number(port), host, () => {
    if (++ready === specs.length) process.stdout.write('ready\n')
  })
}
process.on('SIGTERM', () => process.exit(0))
