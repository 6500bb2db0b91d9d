// The conntrack event follower with a stand-in conntrack (no root): lines
// whose ORIGINAL destination the daemon does not want are dropped before
// they are parsed (a resync's own inserts make one NEW event each).
import t from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@has/daemon-kit'
import { waitFor } from '@has/test-support'
import type { ConntrackRow } from '../src/conntrack.js'
import { conntrackKernel } from '../src/kernel.js'

const line = (dst: string, sport: number): string =>
  `[UPDATE] tcp      6 431999 ESTABLISHED src=10.77.0.1 dst=${dst} sport=${sport} dport=80 src=10.77.0.21 dst=${dst} sport=8080 dport=${sport} [ASSURED]`

t.test('follow: unwanted destinations are dropped unparsed', async t => {
  const tmp = mkdtempSync(join(tmpdir(), 'cs-follow-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const events = [
    line('10.0.0.100', 1000),
    line('10.0.0.200', 1001),
    'not an event line at all',
    line('10.0.0.100', 1002),
  ]
  writeFileSync(join(tmp, 'events'), events.join('\n') + '\n')
  const bin = join(tmp, 'conntrack')
  // -E prints the events, then waits (bounded) like a quiet follower.
  writeFileSync(
    bin,
    `#!/bin/sh\n[ "$1" = -E ] && cat ${JSON.stringify(join(tmp, 'events'))} && exec sleep 30\nexit 0\n`,
  )
  chmodSync(bin, 0o755)

  const run = async (wants?: (dst: string) => boolean) => {
    const rows: ConntrackRow[] = []
    const asked: string[] = []
    const k = conntrackKernel(bin, 120, silentLogger())
    t.teardown(() => k.close())
    k.follow(
      r => rows.push(r),
      wants &&
        (dst => {
          asked.push(dst)
          return wants(dst)
        }),
    )
    await waitFor(() => rows.some(r => r.flow.sport === 1002), {
      what: 'the last event line',
    })
    k.close()
    return { sports: rows.map(r => r.flow.sport), asked }
  }
  const all = await run()
  t.same(all.sports, [1000, 1001, 1002], 'without a filter: every flow')
  const some = await run(dst => dst === '10.0.0.100')
  t.same(some.sports, [1000, 1002], 'only the wanted destination')
  t.same(
    some.asked,
    ['10.0.0.100', '10.0.0.200', '10.0.0.100'],
    'asked with the ORIGINAL destination; a line without one is parsed (and dropped) as before',
  )
})
