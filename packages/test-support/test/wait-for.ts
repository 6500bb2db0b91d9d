import t from 'tap'
import { waitFor, within } from '../src/wait-for.js'

t.test('waitFor resolves with the first truthy probe result', async t => {
  let n = 0
  const v = await waitFor(() => (++n >= 3 ? { n } : undefined), {
    what: 'three probes',
    intervalMs: 1,
  })
  t.same(v, { n: 3 })
})

t.test('a time-out names what was awaited and the last error', async t => {
  let probes = 0
  const err = await waitFor(
    () => {
      probes++
      throw new Error('not listening')
    },
    { what: 'the daemon to listen', timeoutMs: 30, intervalMs: 5 },
  ).catch((e: unknown) => e as Error)
  t.match(err, {
    message:
      /timed out after 30 ms waiting for the daemon to listen; last error: Error: not listening/,
  })
  // The loop ends with the wait: no probe runs after the rejection.
  const after = probes
  await new Promise(r => setTimeout(r, 30))
  t.equal(probes, after, 'polling stopped')
})

t.test('false, null and undefined mean "not yet"', async t => {
  const seq: unknown[] = [false, null, undefined, 0, 'ok']
  // 0 is a value, not "not yet".
  t.equal(
    await waitFor(() => seq.shift() as number | false | null | undefined, {
      what: 'a value',
      intervalMs: 1,
    }),
    0,
  )
})

t.test('within: the value, or a rejection naming what', async t => {
  t.equal(await within(Promise.resolve(7), 100, 'seven'), 7)
  await t.rejects(within(new Promise(() => {}), 20, 'an answer'), {
    message: 'timed out after 20 ms waiting for an answer',
  })
})
