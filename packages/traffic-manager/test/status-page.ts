import t from 'tap'
import {
  RateTracker,
  parseStatusPageListen,
  renderStatusPage,
  startStatusPage,
} from '../src/status-page.js'
import type { StatusSnapshot } from '../src/traffic-manager.js'
import { formatStatus } from '../src/status-table.js'

const node = (
  address: string,
  over: Partial<StatusSnapshot['services'][number]['nodes'][number]> = {},
) => ({
  address,
  port: 80,
  role: 'active' as const,
  state: 'up',
  load: 100,
  weight: 10,
  weightSource: 'auto' as const,
  eligible: true,
  active: 0,
  total: 0,
  bytesIn: 0,
  bytesOut: 0,
  lastReportAgeMs: 200,
  ...over,
})
const snap = (
  nodes: ReturnType<typeof node>[],
  name = 'web',
): StatusSnapshot => ({
  reports: {
    listen: '127.0.0.1:1999',
    accepted: 5,
    dropped: { TM_ERR_REPORT_MAC: 2 },
    keyed: true,
  },
  timeoutMs: 1000,
  workers: 0,
  masters: [],
  nodes: [],
  services: [
    {
      name,
      scheduler: 'wrr',
      dataplane: 'proxy',
      persistentMs: 0,
      running: true,
      failStatic: false,
      nodes,
    },
  ],
})

t.test('listen: a bare port is loopback', async t => {
  t.same(parseStatusPageListen('8080'), { host: '127.0.0.1', port: 8080 })
  t.same(parseStatusPageListen('0.0.0.0:81'), { host: '0.0.0.0', port: 81 })
  t.equal(parseStatusPageListen('nope'), undefined)
})

t.test(
  'rates between the two latest samples; a counter that went back reads 0',
  async t => {
    const r = new RateTracker()
    r.add(snap([node('a', { total: 10, bytesIn: 1000, bytesOut: 0 })]), 1000)
    t.equal(r.rates('web', 'a'), undefined, 'one sample: no rate yet')
    r.add(snap([node('a', { total: 30, bytesIn: 5000, bytesOut: 2048 })]), 3000)
    t.same(r.rates('web', 'a'), {
      connPerS: 10,
      bytesInPerS: 2000,
      bytesOutPerS: 1024,
    })
    r.add(snap([node('a', { total: 2 })]), 4000)
    t.same(r.rates('web', 'a'), {
      connPerS: 0,
      bytesInPerS: 0,
      bytesOutPerS: 0,
    })
    t.equal(r.rates('web', 'b'), undefined, 'unknown node')
  },
)

t.test(
  'the page: one row per node, state classes, escaped names, refresh, no script',
  async t => {
    const html = renderStatusPage(
      snap(
        [
          node('10.0.0.1', { total: 7, active: 2 }),
          node('10.0.0.2', { state: 'timeout', eligible: false, weight: 0 }),
        ],
        '<b>x</b>',
      ),
      (_s, n) =>
        n === '10.0.0.1'
          ? { connPerS: 12.5, bytesInPerS: 2048, bytesOutPerS: 10 }
          : undefined,
      { refreshS: 2, at: new Date(0) },
    )
    t.match(html, '<meta http-equiv="refresh" content="2">')
    t.match(html, '&lt;b&gt;x&lt;/b&gt;')
    t.notMatch(html, '<b>x</b>')
    t.notMatch(html, /<script|src=|href=/i, 'no script, no external asset')
    t.match(
      html,
      '<tr class="up" data-node="10.0.0.1"><td class="l">10.0.0.1:80</td><td class="l state">up</td>' +
        '<td>100</td><td>10</td><td>2</td><td>7</td><td class="rate">13</td><td>2.0 KiB/s</td><td>10 B/s</td><td>0.2 s</td></tr>',
    )
    t.match(
      html,
      /<tr class="timeout out" data-node="10\.0\.0\.2">.*timeout, out.*<td class="rate">-<\/td>/,
    )
    t.match(html, '1/2 nodes in')
    t.match(html, '5 accepted, 2 dropped')
  },
)

t.test('fail-static shows on the service and on each kept node', async t => {
  const s = snap([
    node('10.0.0.1', { state: 'timeout', weight: 1, kept: true }),
    node('10.0.0.2', { state: 'timeout', eligible: false, weight: 0 }),
  ])
  s.services[0]!.failStatic = true
  const html = renderStatusPage(s, () => undefined, {
    refreshS: 2,
    at: new Date(0),
  })
  t.match(html, 'FAIL-STATIC: every serving node silent, kept; 1/2 nodes in')
  t.match(html, '<td class="l state">timeout, kept</td>')
  t.match(html, '<td class="l state">timeout, out</td>')
  const text = formatStatus(s)
  t.match(text, /FAIL-STATIC/)
  t.match(text, /10\.0\.0\.1:80 +timeout \(kept\)/)
})

t.test('the listener: loopback only unless allowed; GET only', async t => {
  const s = snap([node('10.0.0.1')])
  await t.rejects(
    startStatusPage({ listen: '0.0.0.0:0', snapshot: async () => s }),
    { code: 'KIT_ERR_LISTEN_REMOTE', message: /--status-page-allow-remote/ },
  )
  await t.rejects(
    startStatusPage({ listen: 'x:y:z', snapshot: async () => s }),
    { code: 'KIT_ERR_BAD_ADDRESS' },
  )
  const page = await startStatusPage({ listen: '0', snapshot: async () => s })
  t.teardown(() => page.close())
  t.equal(page.address.host, '127.0.0.1')
  const res = await fetch(`http://127.0.0.1:${page.address.port}/`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-security-policy'), "default-src 'none'")
  t.match(await res.text(), 'data-node="10.0.0.1"')
  t.equal(
    (await fetch(`http://127.0.0.1:${page.address.port}/`, { method: 'POST' }))
      .status,
    405,
  )
  t.equal((await fetch(`http://127.0.0.1:${page.address.port}/x`)).status, 404)
})
