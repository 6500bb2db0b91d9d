// Node's TCP handle binding as the handle relay needs it: present on the
// Node this package supports, every member checked.
import t from 'tap'
import { uvBinding, uvBindingMissing } from '../src/uv-binding.js'
import { chooseRelay } from '../src/proxy-service.js'

t.test('the binding is found and complete on this Node', async t => {
  const uv = uvBinding()
  t.ok(uv, `uvBinding() (missing: ${uvBindingMissing()})`)
  t.equal(uvBindingMissing(), '')
  if (!uv) return
  const h = uv.newSocket()
  t.equal(typeof h.useUserBuffer, 'function')
  t.equal(typeof h.writeBuffer, 'function')
  h.close()
  t.equal(uv.UV_EOF < 0, true, 'UV_EOF is an error code')
})

t.test('the relay is the handles one unless streams are asked for', async t => {
  const saved = process.env.TM_PROXY_RELAY
  t.teardown(() => {
    if (saved === undefined) delete process.env.TM_PROXY_RELAY
    else process.env.TM_PROXY_RELAY = saved
  })
  delete process.env.TM_PROXY_RELAY
  t.match(chooseRelay(), { engine: { name: 'handles' }, why: 'default' })
  t.match(chooseRelay('streams'), {
    engine: { name: 'streams' },
    why: 'asked for',
  })
  process.env.TM_PROXY_RELAY = 'streams'
  t.match(chooseRelay(), { engine: { name: 'streams' }, why: 'asked for' })
  t.match(chooseRelay('handles'), {
    engine: { name: 'handles' },
    why: 'asked for',
  })
  // A value that is neither: named, ignored, the default used.
  process.env.TM_PROXY_RELAY = 'stream'
  const r = chooseRelay()
  t.match(r, { engine: { name: 'handles' }, why: 'default', badEnv: 'stream' })
  t.equal(chooseRelay('streams').badEnv, undefined, 'not when asked in code')
})
