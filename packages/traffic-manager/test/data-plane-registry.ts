import t from 'tap'
import { existsSync } from 'node:fs'
import { loadDataPlaneFactory } from '../src/data-plane-registry.js'
import { InProcessHost } from '../src/proxy-host.js'
import { silentLogger } from '@has/daemon-kit'
import type { DataPlaneFactory } from '../src/data-plane.js'

const deps = { proxyHost: async () => new InProcessHost(silentLogger()) }

t.test('proxy resolves to the userspace proxy factory', async t => {
  t.type(await loadDataPlaneFactory('proxy', deps), 'function')
})

t.test(
  'nftables loads lazily from ./nft/nft-data-plane.js, or fails clearly',
  async t => {
    const present = existsSync(
      new URL('../src/nft/nft-data-plane.ts', import.meta.url),
    )
    if (present)
      t.type(await loadDataPlaneFactory('nftables', deps), 'function')
    else
      await t.rejects(loadDataPlaneFactory('nftables', deps), {
        code: 'TM_ERR_DATAPLANE_UNAVAILABLE',
        message: /use dataplane proxy/,
      })
  },
)

t.test('unknown kinds fail; extra factories win', async t => {
  await t.rejects(loadDataPlaneFactory('ebpf', deps), {
    code: 'TM_ERR_DATAPLANE_UNAVAILABLE',
    message: /known: proxy, nftables/,
  })
  const fake: DataPlaneFactory = async () => ({
    kind: 'nftables',
    update: async () => {},
    counters: async () => new Map(),
    close: async () => {},
  })
  t.equal(
    await loadDataPlaneFactory('nftables', {
      ...deps,
      extra: { nftables: fake },
    }),
    fake,
  )
})
