// Issue 9's targets as data, so every suite states met/missed the same way
// and run.js can put one summary table at the top of docs/benchmarks.md.

/**
 * One target check. `atLeast`: value must be >= goal, else <= goal.
 * → { target, value, goal, unit, met, text }; text says by how much a miss is.
 */
export function check(
  target,
  value,
  goal,
  { atLeast = true, unit = '', digits = 2 } = {},
) {
  const f = x => `${+Number(x).toFixed(digits)}${unit}`
  if (!Number.isFinite(value))
    return { target, value: null, goal, unit, met: false, text: 'not measured' }
  const met = atLeast ? value >= goal : value <= goal
  const gap = Math.abs(value - goal)
  const rel = goal ? Math.abs(gap / goal) * 100 : 0
  // A gap between percentages is in points, not percent.
  const g = x => (unit === '%' ? `${+Number(x).toFixed(digits)} points` : f(x))
  const text = met
    ? `met (${f(value)} ${atLeast ? '>=' : '<='} ${f(goal)})`
    : `missed by ${g(gap)} (${f(value)} against ${atLeast ? '>=' : '<='} ${f(goal)}, ${rel.toFixed(0)}% ${atLeast ? 'short' : 'over'})`
  return { target, value: +Number(value).toFixed(4), goal, unit, met, text }
}

/** The check's text with its verdict in bold, for a Markdown line. */
export const verdict = c =>
  c.text.replace(/^(met|missed|not measured)/, '**$1**')
