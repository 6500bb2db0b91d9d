// Ports with their own IP and MAC: the announcements move the server.
import t from 'tap'
import { needsRoot } from '../../../../test/helpers/netns.js'
import { routeDev } from '../helpers/lab.js'
import { UPDELAY, bringDown, bringUp, flows, isSwitch, setUp, WAIT } from '../helpers/scenario.js'

t.test('different IP and MAC per port: announcements redirect the server', async t => {
  if (!needsRoot(t)) return
  const { lab, erd, sink, source } = await setUp(t, 'erdd', false)
  const mac1 = (JSON.parse(await lab.lab.ip(lab.node, ['-j', 'link', 'show', 'eth1'])) as { address: string }[])[0]?.address
  await flows(sink)
  await bringDown(lab)
  await erd.waitLog(isSwitch('secondary'), WAIT)
  // The server learns that 10.77.0.2 now lives behind eth1's MAC (the
  // gratuitous ARP), so its ACKs reach the node and the stream goes on.
  await flows(sink)
  const neigh = JSON.parse(await lab.lab.ip(lab.srv, ['-j', 'neigh', 'show', lab.ip4[0]])) as { lladdr?: string }[]
  t.equal(neigh[0]?.lladdr, mac1, 'server neighbour entry points at eth1')
  await bringUp(lab)
  const coming = await erd.waitLog(l => l.event === 'link' && l.link === 'primary' && l.phase === 'coming-up', WAIT)
  t.equal(coming.delay, UPDELAY)
  const back = await erd.waitLog(isSwitch('primary'), WAIT)
  t.ok(Date.parse(String(back.time)) - Date.parse(String(coming.time)) >= UPDELAY - 5, 'waited for updelay')
  t.equal(await routeDev(lab, lab.server4), 'eth0')
  await flows(sink)
  t.notOk(source.logs.some(l => l.event === 'error' || l.event === 'closed'), 'the TCP stream was never reset')
})

