#!/usr/bin/env node
// The long fuzz run: >= 1,000,000 seeded inputs per target (test/fuzz/
// targets.js), one target at a time in a worker thread. A watchdog ends a
// worker whose current input has not finished within the per-input limit
// and reports that input (a hang the in-loop timer cannot see, such as an
// endless loop). Findings: exceptions other than the documented error type,
// inputs under 64 kB over 100 ms, superlinear growth.
//   node bench/fuzz.js [--count 1000000] [--seed 1] [--target substring] [--limit-ms 2000] [--json]
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'

const MAX_INPUT = 64 * 1024

if (isMainThread) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`)
    return i > 0 ? process.argv[i + 1] : def
  }
  const count = Number(arg('count', '1000000'))
  const seed = Number(arg('seed', '1'))
  const filter = arg('target', '')
  const limitMs = Number(arg('limit-ms', '2000'))
  const json = process.argv.includes('--json')
  const { TARGETS } = await import('../test/fuzz/targets.js')
  const names = TARGETS.map(t => t.name).filter(n => n.includes(filter))
  const results = []
  for (const name of names) results.push(await runOne(name, { count, seed, limitMs }))
  if (json) console.log(JSON.stringify(results, null, 2))
  else {
    console.log(`fuzz: seed ${seed}, ${count} inputs per target, per-input limit ${limitMs} ms`)
    for (const r of results) {
      console.log(`${r.target.padEnd(52)} ${String(r.ran).padStart(9)} inputs ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.findings.length ? `${r.findings.length} FINDING(S)` : 'clean'}`)
      for (const f of r.findings) console.log(`    ${f.kind}: ${f.message}\n      input (base64): ${f.input.slice(0, 200)}`)
    }
  }
  process.exitCode = results.some(r => r.findings.length) ? 1 : 0
} else {
  const { TARGETS } = await import('../test/fuzz/targets.js')
  const { fuzzTarget, growth } = await import('../test/fuzz/engine.js')
  const target = TARGETS.find(t => t.name === workerData.name)
  // Shared with the watchdog: [0] inputs started, [1] current input length, then its bytes.
  const state = new Int32Array(workerData.shared, 0, 2)
  const bytes = new Uint8Array(workerData.shared, 8)
  const r = fuzzTarget(target, {
    seed: workerData.seed,
    count: workerData.count,
    maxFindings: 10,
    onInput: (input, n) => {
      const len = Math.min(input.length, MAX_INPUT)
      bytes.set(input.subarray(0, len))
      Atomics.store(state, 1, len)
      Atomics.store(state, 0, n)
    },
  })
  for (const g of target.growth ?? []) {
    const m = growth(target, g)
    if (m.superlinear) r.findings.push({ kind: 'superlinear', message: `${JSON.stringify(g.piece)} runs: x8 input took x${m.ratio.toFixed(1)} time (${m.big.toFixed(0)} ms)`, input: '' })
  }
  parentPort.postMessage(r)
}

function runOne(name, { count, seed, limitMs }) {
  return new Promise(resolve => {
    const shared = new SharedArrayBuffer(8 + MAX_INPUT)
    const state = new Int32Array(shared, 0, 2)
    const t0 = Date.now()
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { name, count, seed, shared } })
    let last = -1
    let since = Date.now()
    const watchdog = setInterval(() => {
      const n = Atomics.load(state, 0)
      if (n !== last) {
        last = n
        since = Date.now()
      } else if (Date.now() - since > limitMs) {
        clearInterval(watchdog)
        const len = Atomics.load(state, 1)
        const input = Buffer.from(new Uint8Array(shared, 8, len)).toString('base64')
        void worker.terminate()
        resolve({ target: name, ran: n, ms: Date.now() - t0, findings: [{ kind: 'hang', message: `input ${n} ran over ${limitMs} ms; worker stopped`, input }] })
      }
    }, Math.min(250, limitMs / 4))
    worker.once('message', r => {
      clearInterval(watchdog)
      resolve({ target: name, ran: r.ran, ms: Date.now() - t0, findings: r.findings })
    })
    worker.once('error', e => {
      clearInterval(watchdog)
      resolve({ target: name, ran: Atomics.load(state, 0), ms: Date.now() - t0, findings: [{ kind: 'crash', message: `worker: ${e.message}`, input: '' }] })
    })
  })
}
