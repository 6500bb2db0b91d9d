#!/usr/bin/env node
// Heterogeneous nodes: half have twice the capacity (and report it through
// traffic-client --procfs). Aggregate throughput and p99 for traffic-manager's
// schedulers next to HAProxy leastconn and random(2) on the same nodes, as
// a fraction of the nodes' summed capacity. One connection per request, so
// every request is a scheduling decision.
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { startCluster, startHaproxy } from './lib/cluster.js'
import { wrk, median, stopAll, ROOT } from './lib/procs.js'
import { machine, machineMarkdown } from './lib/machine.js'
import { barChart } from './lib/svg.js'

const quick = process.argv.includes('--quick')
const RUNS = quick ? 1 : 3
const SECONDS = quick ? 4 : 8
const SERVICE_MS = 10
const NODES = [
  ...Array.from({ length: 4 }, () => ({ concurrency: 8, capacityFactor: 2 })),
  ...Array.from({ length: 4 }, () => ({ concurrency: 4, capacityFactor: 1 })),
]
const CAPACITY = NODES.reduce((a, n) => a + (n.concurrency * 1000) / SERVICE_MS, 0)
// Offered concurrency: enough to fill every node, not more (so queueing at
// the wrong node shows up as lost throughput, as in the field).
const CONNECTIONS = NODES.reduce((a, n) => a + n.concurrency, 0)

async function measure(url) {
  const r = []
  for (let i = 0; i < RUNS; i++) r.push(await wrk(url, { seconds: SECONDS, connections: CONNECTIONS, threads: 2, close: true }))
  return { rps: median(r.map(x => x.rps)), p99: median(r.map(x => x.p99)), errors: r.reduce((a, x) => a + x.errors, 0), command: r[0].command }
}

const rows = []
try {
  for (const scheduler of ['rr', 'wlc', 'has', 'p2c']) {
    const cluster = await startCluster({ nodes: NODES, serviceMs: SERVICE_MS, scheduler })
    try {
      rows.push({ name: `traffic-manager ${scheduler}`, ...(await measure(cluster.url)) })
      if (scheduler === 'p2c') {
        for (const balance of ['leastconn', 'random(2)']) {
          const hp = await startHaproxy(cluster, { balance, threads: 2 })
          try {
            rows.push({ name: `HAProxy ${balance}`, ...(await measure(hp.url)) })
          } finally {
            await hp.close()
          }
        }
      }
      console.log(`heterogeneous: ${rows.map(r => `${r.name} ${r.rps.toFixed(0)}`).join(', ')}`)
    } finally {
      await cluster.close()
    }
  }
} finally {
  await stopAll()
}

const leastconn = rows.find(r => r.name === 'HAProxy leastconn')
const p2c = rows.find(r => r.name === 'traffic-manager p2c')
const m = machine()
const md = [
  '## Heterogeneous nodes',
  '',
  `8 nodes on 127.0.1.N: 4 with capacity ${(8 * 1000) / SERVICE_MS} requests/s and 4 with ${(4 * 1000) / SERVICE_MS} (concurrency 8 or 4, ${SERVICE_MS} ms service time); summed capacity ${CAPACITY} requests/s. Each node reports its capacity through traffic-client \`--procfs\` (the larger nodes show twice the CPUs). One connection per request (\`Connection: close\`), ${CONNECTIONS} concurrent clients, median of ${RUNS} run(s) of ${SECONDS} s. HAProxy runs \`mode tcp\` with 2 threads and no weights (it has no load feedback here).`,
  '',
  `Load generator: \`${rows[0].command.replace(/http\S+/, '<url>')}\``,
  '',
  '| configuration | requests/s | % of summed capacity | p99 ms | errors |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map(r => `| ${r.name} | ${r.rps.toFixed(0)} | ${((100 * r.rps) / CAPACITY).toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} |`),
  '',
  `Targets: the load-aware scheduler (p2c) reaches at least 95% of the summed capacity: **${p2c.rps / CAPACITY >= 0.95 ? 'met' : 'missed'}** (${((100 * p2c.rps) / CAPACITY).toFixed(1)}%); p99 no worse than HAProxy leastconn: **${p2c.p99 <= leastconn.p99 ? 'met' : 'missed'}** (${p2c.p99.toFixed(1)} ms vs ${leastconn.p99.toFixed(1)} ms).`,
  '',
  '![heterogeneous](bench/heterogeneous.svg)',
  '',
  `<details><summary>machine</summary>\n\n${machineMarkdown(m)}\n\n</details>`,
].join('\n')
mkdirSync(join(ROOT, 'docs', 'bench'), { recursive: true })
writeFileSync(join(ROOT, 'docs', 'bench', 'heterogeneous.md'), md + '\n')
writeFileSync(join(ROOT, 'docs', 'bench', 'heterogeneous.json'), JSON.stringify({ machine: m, capacity: CAPACITY, rows, runs: RUNS, seconds: SECONDS }, null, 2) + '\n')
writeFileSync(join(ROOT, 'docs', 'bench', 'heterogeneous.svg'), barChart({
  title: `Throughput, % of summed capacity (${CAPACITY} req/s)`, yLabel: '% of capacity',
  bars: rows.map(r => ({ name: r.name, value: +((100 * r.rps) / CAPACITY).toFixed(1) })),
}))
console.log('heterogeneous: wrote docs/bench/heterogeneous.md')
