// examples/monitoring/ stays true to the daemons: promtool accepts the
// scrape config and the alert rules, and every metric an alert rule or a
// Grafana panel names is served by some daemon. The names come from the
// real /metrics of the daemons that run on loopback without root
// (traffic-manager, traffic-client, heartbeatd, ldirectord, ha-nfs-mount),
// and, for the three that need interfaces or conntrack (conn-syncd, erd,
// radvd-lite) and vip-announcer (which needs BIRD), from their metrics registries (src/metrics.ts) in the
// exposition format their /metrics serves.

import t from 'tap'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from '@has/daemon-kit'
import { ROOT, run, spawnDaemon, type Proc } from '@has/test-support'
import { freePort } from './helpers/traffic-lab.js'
import { createMetrics as connSyncdMetrics } from '../packages/conn-syncd/src/metrics.js'
import { createMetrics as erdMetrics } from '../packages/erd/src/metrics.js'
import { createMetrics as radvdMetrics } from '../packages/radvd-lite/src/metrics.js'
import { createMetrics as vipAnnouncerMetrics } from '../packages/vip-announcer/src/metrics.js'

const DIR = join(ROOT, 'examples', 'monitoring')
const PROMTOOL = '/usr/bin/promtool'
/** Series Prometheus makes itself, not a daemon. */
const SYNTHETIC = new Set(['up'])

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
])

/** Metric names in a PromQL expression (pure; enough for the queries here). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(
      /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
      ' ',
    ) // label lists
  const names = new Set<string>()
  for (const m of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const word = m[1] as string
    if (m[2] || KEYWORDS.has(word) || /^\d/.test(word)) continue // function call, keyword
    names.add(word)
  }
  return [...names]
}

/** Every sample name an exposition text can carry (histograms: _bucket, _sum, _count). */
function exposed(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [name, type] = [m[1] as string, m[2] as string]
    out.push(name)
    if (type === 'histogram' || type === 'summary')
      out.push(`${name}_bucket`, `${name}_sum`, `${name}_count`)
  }
  return out
}

t.test(
  'metricNames finds names and skips functions, labels, keywords',
  async t => {
    t.same(
      metricNames(
        'sum by (instance, service) (tm_backend_weight > bool 0) == 0',
      ),
      ['tm_backend_weight'],
    )
    t.same(
      metricNames(
        '(changes(hb_group_held[10m]) > 0) and on (instance) (min_over_time(hb_peer_alive{x="a b"}[10m]) == 1)',
      ),
      ['hb_group_held', 'hb_peer_alive'],
    )
    t.same(
      metricNames(
        'histogram_quantile(0.9, sum by (le) (rate(erd_switch_seconds_bucket[1h])))',
      ),
      ['erd_switch_seconds_bucket'],
    )
    t.same(metricNames('time() - hnm_sync_last_success_timestamp_seconds'), [
      'hnm_sync_last_success_timestamp_seconds',
    ])
  },
)

const noPromtool = existsSync(PROMTOOL)
  ? false
  : 'promtool is not installed (Debian package prometheus; .ci/setup installs it)'

t.test(
  'promtool accepts the scrape config and the rules, and the rule tests pass',
  { skip: noPromtool },
  async t => {
    const rules = await run(PROMTOOL, [
      'check',
      'rules',
      join(DIR, 'has.rules.yml'),
    ])
    t.equal(rules.code, 0, rules.stdout + rules.stderr)
    const count = Number(/SUCCESS: (\d+) rules found/.exec(rules.stdout)?.[1])
    const exprs =
      readFileSync(join(DIR, 'has.rules.yml'), 'utf8').match(/^\s+expr: /gm) ??
      []
    t.equal(
      exprs.length,
      count,
      'every rule has a one-line expr (what the name check reads)',
    )
    const config = await run(
      PROMTOOL,
      ['check', 'config', join(DIR, 'prometheus.yml')],
      { cwd: DIR },
    )
    t.equal(config.code, 0, config.stdout + config.stderr)
    // Alerts fire on the series they are meant for (all nodes out, NIC on
    // secondary, VIP held by no master, false failover suspected).
    const unit = await run(PROMTOOL, ['test', 'rules', 'has.rules.test.yml'], {
      cwd: DIR,
    })
    t.equal(unit.code, 0, unit.stdout + unit.stderr)
  },
)

t.test(
  'every metric named by a rule or a panel exists in some daemon',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'has-monitoring-'))
    const procs: Proc[] = []
    t.teardown(async () => {
      for (const p of procs) await p.stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    })
    const start = (pkg: string, args: string[]): Proc => {
      const p = spawnDaemon(pkg, [
        ...args,
        '--metrics',
        '127.0.0.1:0',
        '--control',
        join(dir, `${pkg}.sock`),
      ])
      procs.push(p)
      return p
    }

    const reportPort = await freePort('udp')
    const vip = await freePort('tcp')
    writeFileSync(
      join(dir, 'tmd.conf'),
      `traffic1 127.0.0.31\nport ${reportPort}\nlisten 127.0.0.1\nworkers 0\nvirtual 127.0.0.1:${vip}\n    scheduler wrr\n    node 127.0.0.31:80\n`,
    )
    writeFileSync(
      join(dir, 'tcd.conf'),
      `master1 127.0.0.1\nport ${reportPort}\nnode 127.0.0.31\n`,
    )
    const hbPort = await freePort('udp')
    mkdirSync(join(dir, 'rd'))
    writeFileSync(
      join(dir, 'ha.cf'),
      `keepalive 100ms\ndeadtime 500ms\ninitdead 500ms\nudpport ${hbPort}\nucast lo 127.0.0.2\nnode alpha beta\nstate_dir ${dir}/state\nresource_dir ${dir}/rd\n`,
    )
    writeFileSync(
      join(dir, 'authkeys'),
      'auth 1\n1 sha1 monitoring-test-secret\n',
    )
    chmodSync(join(dir, 'authkeys'), 0o600)
    writeFileSync(join(dir, 'haresources'), 'alpha vip::x\n')
    writeFileSync(join(dir, 'rd', 'vip'), '#!/bin/sh\nexit 0\n')
    chmodSync(join(dir, 'rd', 'vip'), 0o755)
    writeFileSync(
      join(dir, 'ldirectord.cf'),
      `checkinterval = 1\ntrafficmanagercontrol = ${join(dir, 'traffic-manager.sock')}\nvirtual = 127.0.0.1:${vip}\n    real = 127.0.0.31:80 masq\n    service = http\n`,
    )
    mkdirSync(join(dir, 'a'))
    mkdirSync(join(dir, 'b'))
    writeFileSync(join(dir, 'hnm.conf'), `sync ${dir}/a ${dir}/b/\n`)

    const running = [
      start('traffic-manager', ['--config', join(dir, 'tmd.conf')]),
      start('traffic-client', ['--config', join(dir, 'tcd.conf')]),
      start('heartbeatd', ['--config', join(dir, 'ha.cf'), '--node', 'alpha']),
      start('ldirectord', ['-c', join(dir, 'ldirectord.cf')]),
      start('ha-nfs-mount', ['--config', join(dir, 'hnm.conf')]),
    ]
    const have = new Set<string>(SYNTHETIC)
    for (const p of running) {
      const up = await p.waitLog(l => l.msg === 'metrics listener up', 30_000)
      const text = await (
        await fetch(`http://${up.listen as string}/metrics`)
      ).text()
      const names = exposed(text)
      t.ok(
        names.length > 2,
        `${String(p.child.spawnargs[1])}: /metrics has its own metrics`,
      )
      for (const n of names) have.add(n)
    }
    for (const make of [
      connSyncdMetrics,
      erdMetrics,
      radvdMetrics,
      vipAnnouncerMetrics,
    ]) {
      const registry = new Registry()
      make(registry)
      for (const n of exposed(await registry.metrics())) have.add(n)
    }

    const named = new Map<string, string>() // metric -> where it is named
    const rules = readFileSync(join(DIR, 'has.rules.yml'), 'utf8')
    for (const m of rules.matchAll(/^\s+- alert: (\S+)\n\s+expr: (.*)$/gm)) {
      for (const n of metricNames(m[2] as string))
        named.set(n, `rule ${m[1] as string}`)
    }
    const dash = JSON.parse(
      readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8'),
    ) as {
      panels: { title: string; targets?: { expr: string }[] }[]
    }
    for (const p of dash.panels) {
      for (const target of p.targets ?? [])
        for (const n of metricNames(target.expr))
          named.set(n, `panel "${p.title}"`)
    }
    t.ok(
      named.size > 60,
      `${named.size} metric names found in the rules and panels`,
    )
    const missing = [...named]
      .filter(([n]) => !have.has(n))
      .map(([n, where]) => `${n} (${where})`)
    t.same(missing, [], 'no rule or panel names a metric no daemon serves')

    // Each daemon's metrics appear on the dashboard (a new metric gets a panel).
    const onDashboard = new Set(
      dash.panels.flatMap(p =>
        (p.targets ?? []).flatMap(x => metricNames(x.expr)),
      ),
    )
    const base = [...have].filter(
      n =>
        !/_(bucket|sum|count)$/.test(n) &&
        !SYNTHETIC.has(n) &&
        !n.startsWith('process_') &&
        !n.startsWith('nodejs_'),
    )
    const histograms = new Set(
      [...have]
        .filter(n => n.endsWith('_bucket'))
        .map(n => n.slice(0, -'_bucket'.length)),
    )
    const absent = base.filter(
      n =>
        !onDashboard.has(n) &&
        !(
          histograms.has(n) && [...onDashboard].some(d => d.startsWith(`${n}_`))
        ),
    )
    t.same(absent, [], 'every daemon metric has a panel')
  },
)
