// A Node whose TCP handle binding is not what relay-handles.ts expects (a
// member renamed or gone): the proxy must fall back to net.Socket, say
// why, and still relay.
import t from 'tap'
import { createServer, connect } from 'node:net'
import { silentLogger } from '@has/daemon-kit'
import { within } from '@has/test-support'
import { PROXY_SPEC } from './fixtures/proxy-spec.js'

const real = (process as unknown as { binding(n: string): unknown }).binding
;(process as unknown as { binding(n: string): unknown }).binding = (
  n: string,
) => {
  const b = real.call(process, n) as Record<string, unknown>
  // As if a later Node renamed the write request class.
  return n === 'stream_wrap' ? { ...b, WriteWrap: undefined } : b
}
const { uvBinding, uvBindingMissing } = await import('../src/uv-binding.js')
// The probe runs once, on first use: here, while the binding is patched.
uvBinding()
const { chooseRelay, ProxyService } = await import('../src/proxy-service.js')
;(process as unknown as { binding(n: string): unknown }).binding = real

t.test('the probe answers undefined and names what is missing', async t => {
  t.equal(uvBinding(), undefined)
  t.match(uvBindingMissing(), /expected members/)
})

t.test('the proxy falls back to streams and relays', async t => {
  const relay = chooseRelay()
  t.equal(relay.engine.name, 'streams')
  t.match(relay.why, /not usable here/)
  const backend = createServer(s => s.end('fallback works'))
  await new Promise<void>(r => backend.listen(0, '127.0.0.1', r))
  t.teardown(() => backend.close())
  const a = backend.address()
  const s = new ProxyService(PROXY_SPEC, silentLogger())
  await s.listen()
  t.teardown(() => s.close())
  s.update([
    {
      id: 'a',
      host: '127.0.0.1',
      port: a && typeof a === 'object' ? a.port : 0,
      weight: 1,
    },
  ])
  t.equal(s.relay, 'streams')
  const got = await within(
    new Promise<string>((resolve, reject) => {
      const c = connect({ port: s.port, host: '127.0.0.1' })
      let text = ''
      c.setEncoding('utf8')
      c.on('data', (d: string) => (text += d))
      c.on('error', reject)
      c.on('end', () => resolve(text))
    }),
    5000,
    'the reply through the fallback relay',
  )
  t.equal(got, 'fallback works')
})
