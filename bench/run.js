#!/usr/bin/env node
// One command for the whole benchmark suite: runs every bench/<suite>.js in
// turn (each bounded in time and count, loopback or its own namespaces
// only), then assembles docs/benchmarks.md from the sections and JSON they
// wrote to docs/bench/, with a summary of issue 9's targets on top.
//   node bench/run.js [--quick] [--list] [--assemble] [suite ...]
import {
  readdirSync,
  readFileSync,
  writeFileSync,
  existsSync,
  mkdirSync,
} from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machine, machineMarkdown } from './lib/machine.js'
import { check, verdict } from './lib/targets.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const docs = join(root, 'docs', 'bench')

// Order, one-line purpose and expected seconds (full, --quick) on a quiet
// 2-core machine. Measured durations from the last run (durations.json)
// replace these estimates once a suite has run here.
const SUITES = [
  [
    'proxy',
    'userspace proxy vs HAProxy and nginx stream, four nginx nodes',
    400,
    80,
  ],
  [
    'proxy-memory',
    'userspace proxy: memory per open idle connection, both relays',
    40,
    20,
  ],
  ['scaling', 'thesis Table 13: 1-16 capacity-limited nodes', 210, 70],
  [
    'heterogeneous',
    'mixed-capacity nodes: schedulers vs HAProxy leastconn/random(2)',
    190,
    70,
  ],
  ['nftables', 'nftables data plane vs routing without NAT (root)', 120, 60],
  [
    'dr',
    'direct routing vs NAT plane, routed and direct; 627 B and 1 MB (root)',
    330,
    70,
  ],
  [
    'footprint',
    'RSS and idle CPU of every daemon; CPU per 1,000 requests',
    130,
    50,
  ],
  ['traffic-client', 'reporting cost, agent-check, drain latency', 40, 15],
  ['heartbeatd', 'failover time vs keepalived (root)', 180, 60],
  ['erd', 'NIC switchover time (root)', 150, 50],
  ['ha-nfs-mount', 'NFS failover time and sync lag (root)', 120, 45],
  ['ldirectord', 'health-check cost and detection vs HAProxy', 150, 60],
  ['conn-syncd', 'connections surviving a master failover (root)', 120, 40],
  ['radvd-lite', 'router advertisements vs radvd (root)', 90, 40],
  [
    'bgp',
    'N active masters behind BGP ECMP: CPU per master, crash to withdrawal (root)',
    330,
    120,
  ],
]
// Files in bench/ that are not suites.
const NOT_SUITES = new Set(['run', 'erd-probe'])
const DEFAULT_ESTIMATE = [120, 60]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
// --assemble: run nothing, rebuild docs/benchmarks.md from docs/bench/.
const assembleOnly = args.includes('--assemble')
const known = new Map(
  SUITES.map(([name, what, full, q]) => [name, { name, what, full, quick: q }]),
)
for (const f of readdirSync(here)) {
  const name = f.slice(0, -3)
  if (f.endsWith('.js') && !NOT_SUITES.has(name) && !known.has(name)) {
    known.set(name, {
      name,
      what: '(not described in run.js)',
      full: DEFAULT_ESTIMATE[0],
      quick: DEFAULT_ESTIMATE[1],
    })
  }
}
for (const s of known.values())
  if (!existsSync(join(here, `${s.name}.js`))) known.delete(s.name)

const durationsFile = join(docs, 'durations.json')
const measured = existsSync(durationsFile)
  ? JSON.parse(readFileSync(durationsFile, 'utf8'))
  : {}
const estimate = s =>
  measured[s.name]?.[quick ? 'quick' : 'full'] ?? s[quick ? 'quick' : 'full']
const fmt = sec =>
  sec >= 90 ? `${(sec / 60).toFixed(1)} min` : `${Math.round(sec)} s`

if (args.includes('--help') || args.includes('-h') || args.includes('--list')) {
  console.log(`usage: node bench/run.js [--quick] [--list] [--assemble] [suite ...]   (npm run bench -- [options])

Runs the benchmark suites in this order (all when none is named) and writes
docs/benchmarks.md. --quick: fewer and shorter runs (a smoke test, not
figures to publish). --assemble: run nothing, rebuild docs/benchmarks.md
from the sections in docs/bench/. Suites marked (root) fail without root.

| suite | what | full | --quick |
| --- | --- | --- | --- |
${[...known.values()].map(s => `| ${s.name} | ${s.what} | ${fmt(measured[s.name]?.full ?? s.full)} | ${fmt(measured[s.name]?.quick ?? s.quick)} |`).join('\n')}

Total: ${fmt([...known.values()].reduce((a, s) => a + (measured[s.name]?.full ?? s.full), 0))} full, ${fmt([...known.values()].reduce((a, s) => a + (measured[s.name]?.quick ?? s.quick), 0))} quick.`)
  process.exit(0)
}

const unknownOpts = args.filter(
  a => a.startsWith('-') && a !== '--quick' && a !== '--assemble',
)
const names = args.filter(a => !a.startsWith('-'))
const unknown = names.filter(n => !known.has(n))
if (unknownOpts.length || unknown.length) {
  console.error(
    `bench: unknown ${unknownOpts.length ? `option ${unknownOpts.join(' ')}` : `suite ${unknown.join(' ')}`}; suites: ${[...known.keys()].join(' ')}`,
  )
  process.exit(2)
}
const selected = assembleOnly
  ? []
  : [...known.values()].filter(s => !names.length || names.includes(s.name))
const total = selected.reduce((a, s) => a + estimate(s), 0)
if (selected.length)
  console.log(
    `bench: ${selected.length} suite(s)${quick ? ' (quick)' : ''}: ${selected.map(s => `${s.name} ~${fmt(estimate(s))}`).join(', ')}`,
  )
if (selected.length)
  console.log(
    `bench: estimated duration ${fmt(total)} (ends about ${new Date(Date.now() + total * 1000).toTimeString().slice(0, 5)})`,
  )
if (process.getuid?.() !== 0)
  console.log('bench: not root: suites that need namespaces will fail or skip')

const results = []
for (const s of selected) {
  const started = Date.now()
  console.log(
    `\nbench: ${s.name}${quick ? ' (quick)' : ''}, ~${fmt(estimate(s))}`,
  )
  const r = spawnSync(
    process.execPath,
    [join(here, `${s.name}.js`), ...(quick ? ['--quick'] : [])],
    {
      stdio: 'inherit',
      cwd: root,
      // Bounded even if a suite hangs: three times its estimate, at least 10 min.
      timeout: Math.max(600, 3 * estimate(s)) * 1000,
      killSignal: 'SIGTERM',
    },
  )
  const seconds = Math.round((Date.now() - started) / 1000)
  const status = r.error
    ? `timeout (${r.error.code})`
    : r.signal
      ? `signal ${r.signal}`
      : r.status
  results.push({ suite: s.name, status, seconds, estimate: estimate(s) })
  if (status === 0) {
    const m = (measured[s.name] ??= {})
    m[quick ? 'quick' : 'full'] = seconds
    m[quick ? 'quickAt' : 'fullAt'] = new Date(started).toISOString()
  }
  console.log(`bench: ${s.name} exit ${status} after ${fmt(seconds)}`)
}
mkdirSync(docs, { recursive: true })
writeFileSync(durationsFile, JSON.stringify(measured, null, 2) + '\n')

// ---- docs/benchmarks.md ---------------------------------------------------
const readJson = name => {
  try {
    return JSON.parse(readFileSync(join(docs, `${name}.json`), 'utf8'))
  } catch {
    return undefined
  }
}

/** Every target of issue 9, from the suites' JSON: [{ suite, quick, checks }]. */
function targetRows() {
  const out = []
  for (const name of ['proxy', 'scaling', 'heterogeneous']) {
    const j = readJson(name)
    out.push({
      suite: name,
      quick: j?.quick,
      checks: j?.targets ?? [
        { target: `${name}: no results`, met: false, text: 'not measured' },
      ],
    })
  }
  // nftables.js (another issue's bench) writes rows; the target is computed
  // here: the data plane to one node against plain routing without NAT.
  const nft = readJson('nftables')
  const dp = nft?.results?.find(r =>
    /^nftables data plane, 1 node/.test(r.name),
  )
  const routed = nft?.results?.find(r => /no NAT/.test(r.name))
  out.push({
    suite: 'nftables',
    quick: nft?.quick,
    checks: [
      check(
        'nftables data plane (1 node) >= 0.9 x routed without NAT',
        dp && routed ? dp.rps / routed.rps : NaN,
        0.9,
      ),
    ],
  })
  // dr.js (issue 12) writes its own target checks.
  const dr = readJson('dr')
  out.push({
    suite: 'dr',
    quick: dr?.quick,
    checks: dr?.targets ?? [
      { target: 'dr: no results', met: false, text: 'not measured' },
    ],
  })
  // Footprint has two checks per daemon: list the misses, fold the rest.
  const fp = readJson('footprint')
  const fpChecks = fp?.checks ?? [
    { target: 'footprint: no results', met: false, text: 'not measured' },
  ]
  const fpMet = fpChecks.filter(c => c.met)
  out.push({
    suite: 'footprint',
    quick: fp?.quick,
    checks: [
      ...fpChecks.filter(c => !c.met),
      ...(fpMet.length
        ? [
            {
              target: `footprint: the other ${fpMet.length} checks (RSS < ${fp.targets?.rssMB} MB, idle CPU < ${fp.targets?.idleCpuPct}% per daemon)`,
              met: true,
              text: 'met',
            },
          ]
        : []),
    ],
  })
  return out
}

function targetsMarkdown() {
  const rows = targetRows().flatMap(g =>
    g.checks.map(c => ({ ...c, suite: g.suite, quick: g.quick })),
  )
  const missed = rows.filter(r => !r.met)
  return [
    '## Targets (issue 9)',
    '',
    `${missed.length ? `${missed.length} of ${rows.length} lines below missed` : `All ${rows.length} lines below met`}. Each line comes from the suite's own section below, which gives the figures behind a miss and its likely cause; "quick" marks figures from a \`--quick\` smoke run, not for publication.`,
    '',
    '| suite | target | result |',
    '| --- | --- | --- |',
    ...rows.map(
      r =>
        `| ${r.suite}${r.quick ? ' (quick)' : ''} | ${r.target} | ${r.met ? r.text : verdict(r)} |`,
    ),
    '',
  ].join('\n')
}

const ran = new Set(results.map(r => r.suite))
const sections = [...known.values()]
  .map(s => ({ s, p: join(docs, `${s.name}.md`) }))
  .filter(({ p }) => existsSync(p))
  .map(({ s, p }) => {
    const text = readFileSync(p, 'utf8').trim()
    return ran.has(s.name) || !results.length
      ? text
      : `${text}\n\n_(This section is from an earlier run: \`node bench/run.js\` did not run ${s.name} this time.)_`
  })

const doc = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (`bash .ci/setup && node bench/run.js`; as',
  'root on Debian, so the namespace suites run and the reference servers',
  'are installed); `node bench/run.js --help` lists the suites and their',
  'durations, `node bench/run.js proxy scaling` runs only those. Each',
  'section below was produced by `node bench/<suite>.js` and gives the',
  'exact load-generator command it ran. Ratios are computed between',
  'configurations measured in the same run on the same machine. All',
  'traffic stays on loopback or inside network namespaces the suite',
  'creates and deletes.',
  '',
  '## Machine of the last assembly',
  '',
  machineMarkdown(machine()),
  '',
  [
    '## When each section was measured',
    '',
    'Sections are rewritten only by their own suite, so one document can hold runs of different days; a quick run is marked.',
    '',
    '| suite | figures from (UTC) | run | seconds |',
    '| --- | --- | --- | ---: |',
    ...SUITES.map(([name]) => {
      const m = measured[name] ?? {}
      const useQuick = m.quickAt && (!m.fullAt || m.quickAt > m.fullAt)
      const at = useQuick ? m.quickAt : m.fullAt
      return `| ${name} | ${at ? at.replace('T', ' ').slice(0, 16) : 'unknown'} | ${at ? (useQuick ? 'quick' : 'full') : '-'} | ${(useQuick ? m.quick : m.full) ?? '-'} |`
    }),
    '',
  ].join('\n'),
  results.length
    ? [
        `## This invocation${quick ? ' (--quick)' : ''}`,
        '',
        '| suite | exit | seconds | estimate |',
        '| --- | --- | ---: | ---: |',
        ...results.map(
          r => `| ${r.suite} | ${r.status} | ${r.seconds} | ${r.estimate} |`,
        ),
        '',
      ].join('\n')
    : '',
  targetsMarkdown(),
  ...sections.map(s => s + '\n'),
].join('\n')
writeFileSync(join(root, 'docs', 'benchmarks.md'), doc)
console.log(
  `\nbench: wrote docs/benchmarks.md (${results.filter(r => r.status === 0).length}/${results.length} suites ok)`,
)
process.exitCode = results.some(r => r.status !== 0) ? 1 : 0
