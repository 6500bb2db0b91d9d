// Figures and the SVG timeline from one run's records (pure: no I/O).
const JUSTIFIED = new Set(['master-off', 'sigstop'])
const sum = o => Object.values(o ?? {}).reduce((a, b) => a + b, 0)

/**
 * load: per-second client records ({t, ok, fail, reasons, streamsLost...});
 * mon: per-second samples ({t, vip, nodes}); faults: with tInject/tUndo (ms);
 * exits: supervisor records (t in s since t0). syncThresholdMs: conn-syncd's.
 */
export function analyse({
  load,
  mon,
  faults,
  exits,
  t0,
  tEnd,
  syncThresholdMs = 1000,
}) {
  const sec = t => Math.floor((t - t0) / 1000)
  // A record covers the second before its time; it is charged to the window
  // its end falls in (a fault's first second includes a little before it).
  const perSec = load.map(l => ({
    s: sec(l.t),
    ok: sum(l.ok),
    fail: sum(l.fail),
    reasons: l.reasons,
    lost: l.streamsLost,
    opened: l.streamsOpened,
    failures: l.failures ?? [],
  }))
  const totals = {
    ok: 0,
    fail: 0,
    byKind: {},
    reasons: {},
    streamsOpened: 0,
    streamsLost: 0,
    streamsLostOld: 0,
    // Streams the server closed between two requests: lost, but no request
    // was sent on them (stream-client.js, finding M).
    streamsLostIdle: 0,
    idleClosed: 0,
  }
  for (const l of load) {
    for (const [k, v] of Object.entries(l.ok))
      (totals.byKind[k] ??= { ok: 0, fail: 0 }).ok += v
    for (const [k, v] of Object.entries(l.fail))
      (totals.byKind[k] ??= { ok: 0, fail: 0 }).fail += v
    for (const [k, v] of Object.entries(l.reasons))
      totals.reasons[k] = (totals.reasons[k] ?? 0) + v
    totals.ok += sum(l.ok)
    totals.fail += sum(l.fail)
    totals.streamsOpened += l.streamsOpened
    totals.idleClosed += l.idleClosed ?? 0
    totals.streamsLost += l.streamsLost.length
    totals.streamsLostIdle += l.streamsLost.filter(
      x => x.request === false,
    ).length
  }
  totals.availability = totals.ok / Math.max(1, totals.ok + totals.fail)
  // Strict: each of those streams counted as a failed request as well, as
  // runs before finding M counted them.
  totals.availabilityStrict =
    totals.ok / Math.max(1, totals.ok + totals.fail + totals.streamsLostIdle)

  // "Old" is a stream's age when its master failed (the fault), not when
  // the client noticed: one opened while a SIGSTOPped master's conn-syncd
  // was frozen could not be synced by any design, yet was 2 s old by the
  // time the takeover reset it. Records without a birth time (older runs)
  // fall back to the age at the loss.
  const old = (x, tFault) =>
    (x.bornAt !== undefined && tFault !== undefined
      ? tFault - x.bornAt
      : x.ageMs) >
    syncThresholdMs + 1000
  const perFault = faults.map((f, i) => {
    const from = sec(f.tInject)
    const to = i + 1 < faults.length ? sec(faults[i + 1].tInject) : sec(tEnd)
    const win = perSec.filter(p => p.s >= from && p.s < to)
    const failed = win.reduce((a, p) => a + p.fail, 0)
    const total = win.reduce((a, p) => a + p.fail + p.ok, 0)
    const lastBad = win.filter(p => p.fail > 0).at(-1)
    const lost = win.flatMap(p => p.lost)
    // VIP owner changes inside the window.
    const owners = mon
      .filter(m => sec(m.t) >= from && sec(m.t) < to)
      .map(m => m.vip)
    let moves = 0
    for (let k = 1; k < owners.length; k++)
      if (owners[k] !== owners[k - 1]) moves++
    const justified =
      JUSTIFIED.has(f.kind) ||
      (f.kind === 'kill9' && f.unit === 'heartbeatd' && f.role === 'active')
    return {
      n: i + 1,
      type: f.type,
      kind: f.kind,
      target: f.target,
      at: (f.tInject - t0) / 1000,
      hold: f.hold,
      failed,
      total,
      recoveryS: lastBad ? lastBad.s - from + 1 : 0,
      streamsLost: lost.length,
      streamsLostOld: lost.filter(x => old(x, f.tInject)).length,
      vipMoves: moves,
      splitBrain: owners.includes('both'),
      falseFailover: moves > 0 && !justified,
      // Each failed request, by when it ended after the fault: with its
      // client port a capture (--capture) finds its connection.
      failures: win
        .flatMap(p => p.failures)
        .map(({ t, ...x }) => ({
          afterS: Math.round(t - f.tInject) / 1000,
          ...x,
        })),
    }
  })
  // Streams lost before the first fault are judged by their age.
  const first = faults.length ? sec(faults[0].tInject) : Infinity
  totals.streamsLostOld =
    perFault.reduce((a, p) => a + p.streamsLostOld, 0) +
    perSec
      .filter(p => p.s < first)
      .flatMap(p => p.lost)
      .filter(x => old(x, undefined)).length
  const byType = {}
  for (const p of perFault) {
    const key = p.type.replace(/ \(.*\)$/, '')
    const b = (byType[p.type] ??= {
      type: p.type,
      count: 0,
      failed: 0,
      total: 0,
      maxRecoveryS: 0,
      streamsLost: 0,
      streamsLostOld: 0,
      falseFailovers: 0,
    })
    void key
    b.count++
    b.failed += p.failed
    b.total += p.total
    b.streamsLost += p.streamsLost
    b.streamsLostOld += p.streamsLostOld
    b.maxRecoveryS = Math.max(b.maxRecoveryS, p.recoveryS)
    b.falseFailovers += p.falseFailover ? 1 : 0
  }
  const crashes = exits.filter(e => !e.expected && !e.provoked)
  const provokedRestarts = exits.filter(e => e.provoked && e.restarted)
  return {
    totals,
    perSec,
    perFault,
    byType: Object.values(byType),
    falseFailovers: perFault.filter(p => p.falseFailover).length,
    splitBrains: perFault.filter(p => p.splitBrain).length,
    crashes,
    provokedRestarts,
  }
}

const esc = s =>
  String(s).replace(
    /[<&>"]/g,
    c => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;', '"': '&quot;' })[c],
  )
const FAULT_COLORS = {
  kill9: '#d62728',
  sigstop: '#9467bd',
  'master-off': '#000000',
  'node-off': '#8c564b',
  nginx: '#ff7f0e',
  nic: '#17becf',
  nfs: '#bcbd22',
  partition: '#e377c2',
  loss: '#7f7f7f',
  cpu: '#1f77b4',
}

/** Consecutive samples with the same value, as [s, e) spans in seconds. */
function runs(mon, get, t0) {
  const out = []
  mon.forEach((m, i) => {
    const s = (m.t - t0) / 1000,
      e = i + 1 < mon.length ? (mon[i + 1].t - t0) / 1000 : s + 1
    const v = get(m)
    if (out.length && out.at(-1).v === v) out.at(-1).e = e
    else out.push({ s, e, v })
  })
  return out
}

/** The timeline: faults, request success rate, VIP owner, node states. */
export function timelineSvg({ a, mon, faults, t0, tEnd, title }) {
  const dur = Math.max(1, (tEnd - t0) / 1000)
  const W = 1100,
    L = 110,
    R = 20,
    plotW = W - L - R
  const x = s => L + (s / dur) * plotW
  const lanes = {
    faults: [40, 40],
    rate: [95, 110],
    vip: [220, 18],
    nodes: [250, 14],
  }
  const nodeIds = [
    ...new Set(mon.flatMap(m => Object.keys(m.nodes ?? {}))),
  ].sort()
  const H = lanes.nodes[0] + nodeIds.length * (lanes.nodes[1] + 4) + 40
  const o = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ]
  // Faults: a bar per fault over its hold, numbered as in the table.
  o.push(
    `<text x="${L - 6}" y="${lanes.faults[0] + 24}" text-anchor="end">faults</text>`,
  )
  faults.forEach((f, i) => {
    const s = (f.tInject - t0) / 1000,
      e = ((f.tUndo ?? f.tInject) - t0) / 1000
    o.push(
      `<rect x="${x(s)}" y="${lanes.faults[0] + (i % 2) * 20}" width="${Math.max(2, x(e) - x(s))}" height="16" fill="${FAULT_COLORS[f.kind] ?? '#444'}" opacity="0.8"><title>${esc(`${i + 1}. ${f.type} ${f.target ?? ''}`)}</title></rect>`,
      `<text x="${x(s) + 2}" y="${lanes.faults[0] + (i % 2) * 20 + 12}" fill="white" font-size="9">${i + 1}</text>`,
    )
  })
  // Success rate per second (0-100 %), failures marked in red.
  const [ry, rh] = lanes.rate
  o.push(
    `<text x="${L - 6}" y="${ry + rh / 2}" text-anchor="end">success %</text>`,
    `<line x1="${L}" y1="${ry + rh}" x2="${L + plotW}" y2="${ry + rh}" stroke="#888"/>`,
    `<text x="${L - 6}" y="${ry + 8}" text-anchor="end" font-size="9">100</text>`,
    `<text x="${L - 6}" y="${ry + rh}" text-anchor="end" font-size="9">0</text>`,
  )
  const pts = a.perSec
    .filter(p => p.ok + p.fail > 0)
    .map(
      p =>
        `${x(p.s + 0.5).toFixed(1)},${(ry + rh - (p.ok / (p.ok + p.fail)) * rh).toFixed(1)}`,
    )
  o.push(
    `<polyline fill="none" stroke="#2ca02c" stroke-width="1.2" points="${pts.join(' ')}"/>`,
  )
  for (const p of a.perSec.filter(p => p.fail > 0))
    o.push(
      `<line x1="${x(p.s + 0.5)}" y1="${ry + rh}" x2="${x(p.s + 0.5)}" y2="${ry + rh + 6}" stroke="#d62728"><title>${p.fail} failed at ${p.s}s</title></line>`,
    )
  // VIP owner.
  const VIPC = { m1: '#1f77b4', m2: '#ff7f0e', both: '#d62728', none: '#000' }
  o.push(
    `<text x="${L - 6}" y="${lanes.vip[0] + 13}" text-anchor="end">VIP owner</text>`,
  )
  for (const r of runs(mon, m => m.vip, t0))
    o.push(
      `<rect x="${x(r.s)}" y="${lanes.vip[0]}" width="${Math.max(0.5, x(r.e) - x(r.s))}" height="${lanes.vip[1]}" fill="${VIPC[r.v] ?? '#ccc'}"/>`,
    )
  // Node states as the active master's traffic-manager sees them.
  nodeIds.forEach((n, k) => {
    const y = lanes.nodes[0] + k * (lanes.nodes[1] + 4)
    o.push(
      `<text x="${L - 6}" y="${y + 11}" text-anchor="end">${n} eligible</text>`,
    )
    for (const r of runs(mon, m => m.nodes?.[n], t0))
      o.push(
        `<rect x="${x(r.s)}" y="${y}" width="${Math.max(0.5, x(r.e) - x(r.s))}" height="${lanes.nodes[1]}" fill="${r.v === true ? '#2ca02c' : r.v === false ? '#d62728' : '#ccc'}"/>`,
      )
  })
  const ly = H - 14
  o.push(
    `<text x="${L}" y="${ly}">VIP: <tspan fill="${VIPC.m1}">master1</tspan> <tspan fill="${VIPC.m2}">master2</tspan> <tspan fill="${VIPC.both}">both (split brain)</tspan> none=black · nodes: green eligible, red not, grey unknown · x: ${Math.round(dur)} s</text>`,
  )
  o.push('</svg>')
  return o.join('\n')
}
