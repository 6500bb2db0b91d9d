#!/usr/bin/env node
// Memory per open connection of the userspace proxy, per relay (issue 20):
// N connections through one ProxyService process, each asks once and gets
// a small answer (6 bytes) or a 64 KiB one, then stays open and idle. The
// proxy's RSS and PSS (smaps_rollup, after a GC) before and after, per
// connection. The handle relay holds two 16 KiB read buffers per open
// connection, resident as far as reads have filled them; the net.Socket
// relay holds none while idle. Loopback only; the node is a small Node
// server in its own process; every process is started here and killed by
// PID. Writes docs/bench/proxy-memory.{md,json}.
//   node bench/proxy-memory.js [--quick] [--connections N]
import { fork } from 'node:child_process'
import { writeFileSync, mkdirSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { ROOT, freePort } from './lib/procs.js'
import { machine, machineMarkdown } from './lib/machine.js'

const quick = process.argv.includes('--quick')
const i = process.argv.indexOf('--connections')
const N = Number(i > 0 ? process.argv[i + 1] : quick ? 500 : 3000)
if (!(N >= 1 && N <= 20000))
  throw new Error('--connections takes a number from 1 to 20000')

const SIZES = [
  { name: 'small answer (6 B)', bytes: 6 },
  { name: '64 KiB answer', bytes: 64 * 1024 },
]

// The node: answers the first bytes of each connection, then holds it.
let answer = Buffer.alloc(0)
const node = createServer(c => {
  c.on('error', () => {})
  c.once('data', () => c.write(answer))
})
node.maxConnections = 50000
await new Promise(r => node.listen(0, '127.0.0.1', r))
const nodePort = node.address().port

/** Opens n connections, 100 at a time, each reading its whole answer. */
async function openIdle(port, n, bytes) {
  const socks = []
  for (let k = 0; k < n; k += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, n - k) },
        () =>
          new Promise((resolve, reject) => {
            const c = connect(port, '127.0.0.1')
            socks.push(c)
            let got = 0
            const timer = setTimeout(
              () => reject(new Error(`no answer within 10 s (${got} bytes)`)),
              10_000,
            )
            c.on('error', reject)
            c.on('data', d => {
              got += d.length
              if (got >= bytes) {
                clearTimeout(timer)
                resolve()
              }
            })
            c.write('GET\n')
          }),
      ),
    )
  }
  return socks
}

const rows = []
try {
  for (const relay of ['handles', 'streams']) {
    for (const size of SIZES) {
      answer = Buffer.alloc(size.bytes, 'x')
      const port = await freePort('tcp')
      const child = fork(
        join(ROOT, 'bench', 'lib', 'proxy-memory-child.js'),
        [relay, String(port), String(nodePort)],
        {
          execArgv: ['--expose-gc'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      )
      try {
        await new Promise((resolve, reject) => {
          child.once('message', resolve)
          child.once('exit', code => reject(new Error(`proxy exited ${code}`)))
        })
        const ask = () =>
          new Promise(resolve => {
            child.once('message', resolve)
            child.send('measure')
          })
        const before = await ask()
        const socks = await openIdle(port, N, size.bytes)
        const after = await ask()
        for (const s of socks) s.destroy()
        const row = {
          relay: after.relay,
          answer: size.name,
          connections: after.open,
          rssKiBPerConnection: +((after.rss - before.rss) / N).toFixed(1),
          pssKiBPerConnection: +((after.pss - before.pss) / N).toFixed(1),
          rssBeforeKiB: before.rss,
          rssAfterKiB: after.rss,
        }
        rows.push(row)
        console.log(
          `${row.relay}, ${row.answer}: ${row.connections} open, ${row.rssKiBPerConnection} KiB RSS and ${row.pssKiBPerConnection} KiB PSS per connection`,
        )
      } finally {
        child.kill('SIGKILL')
      }
    }
  }
} finally {
  node.close()
}

const m = machine()
const cmd = `node bench/proxy-memory.js${quick ? ' --quick' : ''}${i > 0 ? ` --connections ${N}` : ''}`
const md = [
  '## Userspace proxy: memory per open connection (issue 20)',
  '',
  `What: ${N} connections through one proxy process (the worker's`,
  '`ProxyService`), each sends one line, reads its whole answer from the',
  "node, and then stays open and idle. The proxy's RSS and PSS",
  '(`/proc/PID/smaps_rollup`, after a GC) before the connections and',
  'with all of them open, divided by their number. The handle relay holds',
  'two 16 KiB read buffers per open connection, resident as far as reads',
  'have filled them; the `net.Socket` relay holds no buffer while idle.',
  '',
  `Command: \`${cmd}\``,
  '',
  '| relay | answer | open connections | RSS KiB per connection | PSS KiB per connection |',
  '| --- | --- | ---: | ---: | ---: |',
  ...rows.map(
    r =>
      `| ${r.relay} | ${r.answer} | ${r.connections} | ${r.rssKiBPerConnection} | ${r.pssKiBPerConnection} |`,
  ),
  '',
  machineMarkdown(m),
  '',
].join('\n')
mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true })
writeFileSync(join(ROOT, 'docs', 'bench', 'proxy-memory.md'), md)
writeFileSync(
  join(ROOT, 'docs', 'bench', 'proxy-memory.json'),
  JSON.stringify({ quick, connections: N, rows, machine: m }, null, 2) + '\n',
)
