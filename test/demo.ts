// The README's first command must keep working: run the local cluster demo
// briefly and check that it shows node 3 leave and come back, then stops
// cleanly. Needs no root.
import t from 'tap'
import { join } from 'node:path'
import { run, ROOT } from '@has/test-support'

t.test('local cluster demo: a node leaves and returns', async t => {
  const r = await run(
    process.execPath,
    [
      join(ROOT, 'examples', 'local-cluster', 'demo.js'),
      '--seconds',
      '8',
      '--plain',
    ],
    { cwd: ROOT },
  )
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /node3 left the table/)
  t.match(r.stdout, /node3 is back/)
  // Plain mode is a log: each event once, when it happens (it used to
  // repeat under every table and again at the end).
  for (const e of [
    /killed node3/g,
    /node3 left the table/g,
    /node3 is back/g,
  ]) {
    t.equal(r.stdout.match(e)?.length, 1, `${e.source} printed once`)
  }
  const m =
    /demo finished \(end of run\): (\d+) requests ok, (\d+) failed/.exec(
      r.stdout,
    )
  t.ok(m, 'summary printed')
  t.ok(Number(m?.[1]) > 0, 'requests went through the virtual service')
  for (const n of ['node1', 'node2', 'node4']) {
    const served = new RegExp(`${n} (\\d+)`).exec(
      r.stdout.split('per node:')[1] ?? '',
    )
    t.ok(Number(served?.[1]) > 0, `${n} served requests`)
  }
})
