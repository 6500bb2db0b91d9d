// The status page in a real browser: Debian's headless Chromium loads it
// from a running traffic-manager (--status-page on loopback) with three
// reporting traffic-clients and requests through the virtual service, and
// the DOM it renders has a row per node with its state and connection
// counts; a node whose traffic-client stopped shows as down. The screenshot
// must be a PNG; `HAS_SCREENSHOT=1` also copies it to docs/status-page.png.

import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, spawnDaemon } from '@has/test-support'
import { TrafficLab, get } from '../../../../test/helpers/traffic-lab.js'

const CHROMIUM = '/usr/bin/chromium'

/** Chromium with everything that would reach the network off. */
function chromiumArgs(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    '--disable-default-apps',
    '--no-pings',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    `--user-data-dir=${profile}`,
  ]
}

async function browse(args: string[]): Promise<string> {
  const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  // Bounded: a hung browser is killed by its PID.
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
  const [code] = (await once(child, 'close')) as [number | null]
  clearTimeout(timer)
  if (code !== 0)
    throw new Error(`chromium exited ${code}: ${err.slice(-2000)}`)
  return out
}

const skip = existsSync(CHROMIUM)
  ? false
  : 'chromium is not installed (Debian package chromium; .ci/setup installs it)'

t.test('headless Chromium renders the live table', { skip }, async t => {
  const lab = new TrafficLab({
    cpus: [1, 2, 4],
    schedulers: ['wrr'],
    ipBase: 111,
    timeoutMs: 1500,
  })
  t.teardown(() => lab.cleanup())
  await lab.init()
  await Promise.all(lab.nodes.map(n => lab.startWeb(n)))
  const tm = spawnDaemon('traffic-manager', [
    '--config',
    lab.tmConf,
    '--control',
    lab.tmControl,
    '--status-page',
    '0',
    '--log-level',
    'info',
  ])
  t.teardown(() => tm.stop('SIGKILL'))
  const up = await tm.waitLog(l => l.msg === 'status page up', 30_000)
  const url = `http://${up.listen as string}/`
  await Promise.all(lab.nodes.map(n => lab.startClient(n)))
  await lab.until(
    s =>
      s.services[0]?.nodes.every(n => n.state === 'up' && n.eligible) === true,
    10_000,
    'three nodes up and eligible',
  )

  const requests = 30
  for (let i = 0; i < requests; i++) await get(lab.vipPorts[0] as number)
  const victim = lab.nodes[2]!
  await victim.client?.stop('SIGTERM')
  await lab.until(
    s =>
      s.services[0]?.nodes.find(n => n.address === victim.ip)?.state === 'down',
    10_000,
    'the stopped node is down',
  )
  // The page samples every 2 s: wait (bounded) until it shows the same.
  for (let i = 0; ; i++) {
    const html = await (await fetch(url)).text()
    if (
      new RegExp(
        `<tr class="(down|timeout) out" data-node="${victim.ip}">`,
      ).test(html)
    )
      break
    if (i >= 100)
      throw new Error('status page never showed the stopped node as down')
    await new Promise(r => setTimeout(r, 100))
  }

  const profile = t.testdir({})
  const dom = await browse([
    ...chromiumArgs(join(profile, 'p1')),
    '--dump-dom',
    url,
  ])
  t.match(dom, /<title>traffic-manager status<\/title>/)
  const rows = [
    ...dom.matchAll(/<tr class="([^"]*)" data-node="([^"]+)">(.*?)<\/tr>/g),
  ].map(m => ({
    cls: m[1] as string,
    node: m[2] as string,
    cells: [...(m[3] as string).matchAll(/<td[^>]*>(.*?)<\/td>/g)].map(
      c => c[1] as string,
    ),
  }))
  t.same(
    rows.map(r => r.node),
    lab.nodes.map(n => n.ip),
    'one row per node, in config order',
  )
  // Stopped: `down` from its last report, `timeout` once that is too old.
  t.match(
    rows.map(r => r.cls),
    ['up', 'up', /^(down|timeout) out$/],
    'states as row classes',
  )
  t.match(
    rows.map(r => r.cells[1]),
    ['up', 'up', /^(down|timeout), out$/],
    'state column',
  )
  const totals = rows.map(r => Number(r.cells[5]))
  t.equal(
    totals.reduce((a, b) => a + b, 0),
    requests,
    `total connections add up to the ${requests} requests`,
  )
  for (const r of rows)
    t.match(r.cells[6], /^(\d+(\.\d)?|-)$/, `conn/s of ${r.node} is a rate`)
  t.match(dom, /wrr, proxy; 2\/3 nodes in/)

  // Requests while the screenshot is taken, so the rates are not all zero;
  // bounded in count, stopped before the end of the test.
  let loading = true
  const load = (async () => {
    for (let i = 0; loading && i < 20_000; i++)
      await get(lab.vipPorts[0] as number).catch(() => undefined)
  })()
  t.teardown(async () => {
    loading = false
    await load
  })
  for (let i = 0; ; i++) {
    const html = await (await fetch(url)).text()
    if (/<td class="rate">[1-9]/.test(html)) break
    if (i >= 100)
      throw new Error('status page never showed a non-zero rate under load')
    await new Promise(r => setTimeout(r, 100))
  }
  const png = join(profile, 'page.png')
  await browse([
    ...chromiumArgs(join(profile, 'p2')),
    '--window-size=1100,420',
    '--hide-scrollbars',
    `--screenshot=${png}`,
    url,
  ])
  const head = readFileSync(png).subarray(0, 8)
  t.same(
    [...head],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    'the screenshot is a PNG',
  )
  if (process.env.HAS_SCREENSHOT === '1')
    copyFileSync(png, join(ROOT, 'docs', 'status-page.png'))
  loading = false
  await load
})
