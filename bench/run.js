#!/usr/bin/env node
// One command for the whole benchmark suite: runs every bench/<suite>.js in
// turn (each bounded in time and count, loopback or its own namespaces
// only), then assembles docs/benchmarks.md from the sections they wrote to
// docs/bench/. `--quick` passes through for a short run; naming suites
// runs only those: `node bench/run.js proxy erd`.
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machine, machineMarkdown } from './lib/machine.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const only = args.filter(a => !a.startsWith('--'))
const ORDER = ['proxy', 'scaling', 'heterogeneous', 'nftables', 'footprint',
  'heartbeatd', 'erd', 'ha-nfs-mount', 'conn-syncd']

const suites = readdirSync(here)
  .filter(f => f.endsWith('.js') && f !== 'run.js')
  .map(f => f.slice(0, -3))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
function rank(s) {
  const i = ORDER.indexOf(s)
  return i < 0 ? ORDER.length : i
}

const results = []
for (const s of suites) {
  if (only.length && !only.includes(s)) continue
  const started = Date.now()
  console.log(`bench: ${s}${quick ? ' (quick)' : ''}`)
  const r = spawnSync(process.execPath, [join(here, `${s}.js`), ...(quick ? ['--quick'] : [])], {
    stdio: 'inherit',
    cwd: root,
    timeout: 45 * 60_000,
  })
  results.push({ suite: s, status: r.status, seconds: Math.round((Date.now() - started) / 1000) })
}

const sections = suites
  .map(s => join(root, 'docs', 'bench', `${s}.md`))
  .filter(existsSync)
  .map(p => readFileSync(p, 'utf8').trim())

const doc = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (`node bench/run.js`); each section below was',
  'produced by `node bench/<suite>.js` and says which exact load-generator',
  'command it ran. Ratios are computed between configurations measured in',
  'the same run on the same machine. All traffic stays on loopback or inside',
  'network namespaces the suite creates and deletes.',
  '',
  '## Machine of the last assembly',
  '',
  machineMarkdown(machine()),
  '',
  results.length ? '## Last run\n\n| suite | exit | seconds |\n| --- | --- | --- |\n' +
    results.map(r => `| ${r.suite} | ${r.status} | ${r.seconds} |`).join('\n') + '\n' : '',
  ...sections.map(s => s + '\n'),
].join('\n')
writeFileSync(join(root, 'docs', 'benchmarks.md'), doc)
console.log('bench: wrote docs/benchmarks.md')
process.exitCode = results.some(r => r.status !== 0) ? 1 : 0
