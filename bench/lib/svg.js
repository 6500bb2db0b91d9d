// Small SVG charts for docs/benchmarks.md (users would rather look at a
// scaling curve than read it). No dependencies; plain line and bar charts.
const esc = s =>
  String(s).replace(
    /[<&>]/g,
    c => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;' })[c],
  )
const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#17becf',
]

/** series: [{ name, points: [[x, y], ...] }] */
/** xLog: log2 x axis (node counts 1, 2, 4, 8, 16 evenly spaced). */
export function lineChart({
  title,
  xLabel,
  yLabel,
  series,
  yMin = 0,
  yMax,
  xLog = false,
  width = 640,
  height = 360,
}) {
  const pad = { l: 64, r: 150, t: 36, b: 48 }
  const fx = x => (xLog ? Math.log2(x) : x)
  const xs = series.flatMap(s => s.points.map(p => fx(p[0])))
  const ys = series.flatMap(s => s.points.map(p => p[1]))
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs)
  const y0 = yMin,
    y1 = yMax ?? Math.max(...ys) * 1.1
  const W = width - pad.l - pad.r,
    H = height - pad.t - pad.b
  const sx = x => pad.l + ((fx(x) - x0) / (x1 - x0 || 1)) * W
  const sy = y => pad.t + H - ((y - y0) / (y1 - y0 || 1)) * H
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<line x1="${pad.l}" y1="${pad.t + H}" x2="${pad.l + W}" y2="${pad.t + H}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + H}" stroke="black"/>`,
    `<text x="${pad.l + W / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text x="14" y="${pad.t + H / 2}" text-anchor="middle" transform="rotate(-90 14 ${pad.t + H / 2})">${esc(yLabel)}</text>`,
  ]
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4
    out.push(
      `<line x1="${pad.l - 4}" y1="${sy(y)}" x2="${pad.l + W}" y2="${sy(y)}" stroke="#ddd"/>`,
      `<text x="${pad.l - 8}" y="${sy(y) + 4}" text-anchor="end">${+y.toPrecision(3)}</text>`,
    )
  }
  for (const x of [...new Set(series.flatMap(s => s.points.map(p => p[0])))])
    out.push(
      `<text x="${sx(x)}" y="${pad.t + H + 16}" text-anchor="middle">${x}</text>`,
    )
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map(p => `${sx(p[0])},${sy(p[1])}`).join(' ')}"/>`,
    )
    for (const p of s.points)
      out.push(`<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3" fill="${c}"/>`)
    out.push(
      `<rect x="${width - pad.r + 12}" y="${pad.t + i * 18}" width="12" height="12" fill="${c}"/>`,
      `<text x="${width - pad.r + 30}" y="${pad.t + i * 18 + 10}">${esc(s.name)}</text>`,
    )
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** bars: [{ name, value }] */
export function barChart({ title, yLabel, bars, width = 640, height = 360 }) {
  const pad = { l: 64, r: 16, t: 36, b: 80 }
  const W = width - pad.l - pad.r,
    H = height - pad.t - pad.b
  const max = Math.max(...bars.map(b => b.value)) * 1.1 || 1
  const bw = W / bars.length
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="14" y="${pad.t + H / 2}" text-anchor="middle" transform="rotate(-90 14 ${pad.t + H / 2})">${esc(yLabel)}</text>`,
    `<line x1="${pad.l}" y1="${pad.t + H}" x2="${pad.l + W}" y2="${pad.t + H}" stroke="black"/>`,
  ]
  bars.forEach((b, i) => {
    const h = (b.value / max) * H
    const x = pad.l + i * bw + bw * 0.15
    out.push(
      `<rect x="${x}" y="${pad.t + H - h}" width="${bw * 0.7}" height="${h}" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${x + bw * 0.35}" y="${pad.t + H - h - 4}" text-anchor="middle">${+b.value.toPrecision(4)}</text>`,
      `<text x="${x + bw * 0.35}" y="${pad.t + H + 14}" text-anchor="end" transform="rotate(-30 ${x + bw * 0.35} ${pad.t + H + 14})">${esc(b.name)}</text>`,
    )
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
