#!/usr/bin/env node
// The long fuzz run: >= 1,000,000 seeded inputs per target (test/fuzz/
// targets.js), one target at a time in a worker thread. A watchdog ends a
// worker whose current input has not finished within the per-input limit
// and reports that input (a hang the in-loop timer cannot see, such as an
// endless loop). Findings: exceptions other than the documented error type,
// inputs under 64 kB over 100 ms, superlinear growth. Each target's line is
// printed (and appended to --out as one JSON line) as soon as it finishes,
// so a run cut short still records the targets it completed.
//   node bench/fuzz.js [--count 1000000] [--seed 1] [--target a,b] [--limit-ms 2000] [--out file.jsonl] [--json] [--list]
// --target: comma-separated substrings of target names (default: all).
import {
  Worker,
  isMainThread,
  parentPort,
  workerData,
} from 'node:worker_threads'
import { appendFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const MAX_INPUT = 64 * 1024
const STARTUP_MS = 120_000

if (isMainThread) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`)
    return i > 0 ? process.argv[i + 1] : def
  }
  const count = Number(arg('count', '1000000'))
  const seed = Number(arg('seed', '1'))
  const filters = arg('target', '')
    .split(',')
    .map(f => f.trim())
    .filter(Boolean)
  const limitMs = Number(arg('limit-ms', '2000'))
  const out = arg('out', '')
  const json = process.argv.includes('--json')
  if (!(count > 0) || !Number.isInteger(seed) || !(limitMs > 0)) {
    console.error(
      'fuzz: --count and --limit-ms must be positive numbers, --seed an integer',
    )
    process.exit(2)
  }
  const { TARGETS } = await import('../test/fuzz/targets.js')
  const names = TARGETS.map(t => t.name).filter(
    n => !filters.length || filters.some(f => n.includes(f)),
  )
  if (process.argv.includes('--list')) {
    for (const n of names) console.log(n)
    process.exit(0)
  }
  if (!names.length) {
    console.error(
      `fuzz: no target matches ${JSON.stringify(filters)} (--list shows them)`,
    )
    process.exit(2)
  }
  const results = []
  if (!json)
    console.log(
      `fuzz: seed ${seed}, ${count} inputs per target, per-input limit ${limitMs} ms, ${names.length} targets`,
    )
  for (const name of names) {
    const r = await runOne(name, { count, seed, limitMs })
    results.push(r)
    if (out)
      appendFileSync(
        out,
        JSON.stringify({ ...r, seed, count, at: new Date().toISOString() }) +
          '\n',
      )
    if (!json) {
      const extra =
        r.crashes || r.hangs
          ? ` (${r.crashes ?? 0} inputs threw, ${r.hangs ?? 0} slow)`
          : ''
      console.log(
        `${r.target.padEnd(52)} ${String(r.ran).padStart(9)} inputs ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.findings.length ? `${r.findings.length} FINDING(S)${extra}` : 'clean'}`,
      )
      for (const f of r.findings)
        console.log(
          `    ${f.kind}: ${f.message.slice(0, 300)}\n      input (base64): ${f.input.slice(0, 200)}`,
        )
    }
  }
  if (json) console.log(JSON.stringify(results, null, 2))
  process.exitCode = results.some(r => r.findings.length) ? 1 : 0
} else {
  const { TARGETS } = await import('../test/fuzz/targets.js')
  const { fuzzTarget, growth } = await import('../test/fuzz/engine.js')
  const target = TARGETS.find(t => t.name === workerData.name)
  // Shared with the watchdog: [0] a tick per input run (fuzzing and growth
  // checks; 0 while the worker still loads the packages), [1] the current
  // input's length, then its bytes.
  const state = new Int32Array(workerData.shared, 0, 2)
  const bytes = new Uint8Array(workerData.shared, 8)
  const onInput = input => {
    const len = Math.min(input.length, MAX_INPUT)
    bytes.set(input.subarray(0, len))
    Atomics.store(state, 1, len)
    Atomics.add(state, 0, 1)
  }
  const r = fuzzTarget(target, {
    seed: workerData.seed,
    count: workerData.count,
    maxFindings: 10,
    onInput,
  })
  for (const g of target.growth ?? []) {
    const m = growth(target, g, onInput)
    if (m.superlinear)
      r.findings.push({
        kind: 'superlinear',
        message: `${JSON.stringify(g.piece)} runs: x8 input took x${m.ratio.toFixed(1)} time (${m.big.toFixed(0)} ms)`,
        input: '',
      })
  }
  parentPort.postMessage(r)
}

function runOne(name, { count, seed, limitMs }) {
  return new Promise(resolve => {
    const shared = new SharedArrayBuffer(8 + MAX_INPUT)
    const state = new Int32Array(shared, 0, 2)
    const t0 = Date.now()
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { name, count, seed, shared },
    })
    let last = 0
    let since = Date.now()
    const watchdog = setInterval(
      () => {
        const n = Atomics.load(state, 0)
        // Loading every package on a busy machine can take seconds: the
        // per-input limit starts with the first input, start-up has its own.
        const limit = n === 0 ? STARTUP_MS : limitMs
        if (n !== last) {
          last = n
          since = Date.now()
        } else if (Date.now() - since > limit) {
          clearInterval(watchdog)
          const len = Atomics.load(state, 1)
          const input = Buffer.from(new Uint8Array(shared, 8, len)).toString(
            'base64',
          )
          void worker.terminate()
          const message =
            n === 0
              ? `worker did not start within ${STARTUP_MS} ms`
              : `input ${n} ran over ${limitMs} ms; worker stopped`
          resolve({
            target: name,
            ran: n,
            ms: Date.now() - t0,
            findings: [
              {
                kind: n === 0 ? 'crash' : 'hang',
                message,
                input: n === 0 ? '' : input,
              },
            ],
          })
        }
      },
      Math.min(250, limitMs / 4),
    )
    worker.once('message', r => {
      clearInterval(watchdog)
      resolve({
        target: name,
        ran: r.ran,
        ms: Date.now() - t0,
        findings: r.findings,
        crashes: r.crashes,
        hangs: r.hangs,
      })
    })
    worker.once('error', e => {
      clearInterval(watchdog)
      resolve({
        target: name,
        ran: Atomics.load(state, 0),
        ms: Date.now() - t0,
        findings: [
          { kind: 'crash', message: `worker: ${e.message}`, input: '' },
        ],
      })
    })
  })
}
