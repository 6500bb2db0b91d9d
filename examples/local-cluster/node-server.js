#!/usr/bin/env node
// A traffic node's web server for the local demo and benchmarks: answers
// every request with its name after a fixed service time, serving at most
// `--concurrency` requests at once (the rest queue), so a node has a known
// capacity of concurrency / service-time requests per second.
//   node node-server.js --host 127.0.0.11 --port 8080 --name node1 \
//        --service-ms 5 --concurrency 4
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    name: { type: 'string', default: 'node' },
    'service-ms': { type: 'string', default: '0' },
    concurrency: { type: 'string', default: '0' },
  },
})
const serviceMs = Number(values['service-ms'])
const limit = Number(values.concurrency) || Infinity
const body = Buffer.from(`${values.name}\n`)
let busy = 0
const queue = []

function answer(res) {
  res.writeHead(200, {
    'content-type': 'text/plain',
    'content-length': body.length,
    'x-node': values.name,
  })
  res.end(body)
}

function serve(res) {
  if (serviceMs <= 0) return answer(res)
  busy++
  setTimeout(() => {
    answer(res)
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
server.keepAliveTimeout = 30_000
server.listen(Number(values.port), values.host, () => {
  const a = server.address()
  process.stdout.write(
    JSON.stringify({
      msg: 'listening',
      host: a.address,
      port: a.port,
      name: values.name,
    }) + '\n',
  )
})
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => process.exit(0), 2000).unref()
})
