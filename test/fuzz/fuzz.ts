// The short, seeded fuzz pass `npm test` runs (issue 19, fuzzing section):
// every parser and codec target (test/fuzz/targets.js) gets its corpus and
// a few hundred seeded mutations, plus the growth check. The long run is
// `node bench/fuzz.js` (>= 1,000,000 inputs per target). Findings in code
// owned by others are tracked in KNOWN and docs/security.md: they show as
// todo here until their owners fix them, then this test guards them.
import t from 'tap'

interface Finding {
  kind: string
  message: string
  input: string
}
interface Target {
  name: string
  corpus: (string | Buffer)[]
  growth?: { piece: string; prefix?: string; suffix?: string }[]
  run(b: Buffer): unknown
}
interface Growth {
  small: number
  big: number
  ratio: number
  superlinear: boolean
}

const { TARGETS } = (await import(
  new URL('./targets.js', import.meta.url).href
)) as { TARGETS: Target[] }
const { fuzzTarget, growth } = (await import(
  new URL('./engine.js', import.meta.url).href
)) as {
  fuzzTarget(
    t: Target,
    o: { seed: number; count: number },
  ): { ran: number; findings: Finding[] }
  growth(
    t: Target,
    g: { piece: string; prefix?: string; suffix?: string; n?: number },
  ): Growth
}

/** Findings reported to the owning engineers (see docs/security.md). */
const KNOWN: Record<string, string> = {}

const SEED = 19
const COUNT = 400

for (const target of TARGETS) {
  const known = KNOWN[target.name]
  t.test(target.name, known ? { todo: known } : {}, async t => {
    const r = fuzzTarget(target, { seed: SEED, count: COUNT })
    t.ok(r.ran > COUNT, `${r.ran} inputs ran`)
    t.same(
      r.findings.map(
        f => `${f.kind}: ${f.message} (input base64 ${f.input.slice(0, 120)})`,
      ),
      [],
      'no crash or hang',
    )
    for (const g of target.growth ?? []) {
      const m = growth(target, { ...g, n: 1000 })
      t.notOk(
        m.superlinear,
        `linear on ${JSON.stringify(g.piece)} runs: x8 input took x${m.ratio.toFixed(1)} time`,
      )
    }
  })
}
