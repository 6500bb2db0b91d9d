// Ports with their own IP and MAC: the announcements move the server's
// neighbour entries (IPv4: gratuitous ARP; IPv6: unsolicited NA).
import t from 'tap'
import { needsRoot } from '@has/test-support'
import {
  macOf,
  neigh6,
  pollUntil,
  routeDev,
  type NeighEntry,
} from '../helpers/lab.js'
import {
  UPDELAY,
  bringDown,
  bringUp,
  flows,
  isSwitch,
  setUp,
  WAIT,
} from '../helpers/scenario.js'

// After erd logged the first announcement round: the NA is on the wire,
// only its delivery through two bridges is left.
const NEIGH_DEADLINE = 5000
const pointsAt = (mac: string) => (e: NeighEntry | undefined) =>
  e?.lladdr === mac

t.test(
  'different IP and MAC per port: announcements redirect the server',
  async t => {
    if (!needsRoot(t)) return
    const { lab, erd, sink, source } = await setUp(t, 'erdd', false)
    const mac0 = await macOf(lab, lab.node, 'eth0')
    const mac1 = await macOf(lab, lab.node, 'eth1')
    t.not(mac0, mac1)

    // The server (a peer on LAN A) learns the node's IPv6 address behind
    // eth0's MAC the ordinary way. Nothing sends IPv6 between the two after
    // this, so the server never re-resolves it: only an NA can move it.
    await lab.lab.exec(lab.srv, 'ping', [
      '-6',
      '-n',
      '-q',
      '-c',
      '1',
      '-w',
      '20',
      lab.ip6[0],
    ])
    t.equal(
      (await neigh6(lab, lab.srv, lab.ip6[0]))?.lladdr,
      mac0,
      'before: server entry for the IPv6 address points at eth0',
    )

    await flows(sink)
    await bringDown(lab)
    await erd.waitLog(isSwitch('secondary'), WAIT)
    // The server learns that 10.77.0.2 now lives behind eth1's MAC (the
    // gratuitous ARP), so its ACKs reach the node and the stream goes on.
    await flows(sink)
    const neigh = JSON.parse(
      await lab.lab.ip(lab.srv, ['-j', 'neigh', 'show', lab.ip4[0]]),
    ) as { lladdr?: string }[]
    t.equal(neigh[0]?.lladdr, mac1, 'server neighbour entry points at eth1')

    await erd.waitLog(
      l => l.event === 'announced' && l.dev === 'eth1' && l.round === 1,
      WAIT,
    )
    const moved = await pollUntil(
      () => neigh6(lab, lab.srv, lab.ip6[0]),
      pointsAt(mac1),
      NEIGH_DEADLINE,
    )
    t.equal(
      moved?.lladdr,
      mac1,
      'unsolicited NA: server IPv6 entry points at eth1',
    )
    // An unsolicited NA with Override leaves the entry STALE (RFC 4861
    // 7.2.5); a re-resolution would have gone through INCOMPLETE/PROBE to
    // REACHABLE, and a failed one to FAILED.
    t.same(
      moved?.state,
      ['STALE'],
      'set by the advertisement, not by a re-resolution',
    )

    await bringUp(lab)
    const coming = await erd.waitLog(
      l =>
        l.event === 'link' && l.link === 'primary' && l.phase === 'coming-up',
      WAIT,
    )
    t.equal(coming.delay, UPDELAY)
    const back = await erd.waitLog(isSwitch('primary'), WAIT)
    t.ok(
      Date.parse(String(back.time)) - Date.parse(String(coming.time)) >=
        UPDELAY - 5,
      'waited for updelay',
    )
    t.equal(await routeDev(lab, lab.server4), 'eth0')
    await flows(sink)
    // Announced again on return: the IPv6 entry moves back to eth0.
    await erd.waitLog(
      l => l.event === 'announced' && l.dev === 'eth0' && l.round === 1,
      WAIT,
    )
    const returned = await pollUntil(
      () => neigh6(lab, lab.srv, lab.ip6[0]),
      pointsAt(mac0),
      NEIGH_DEADLINE,
    )
    t.equal(
      returned?.lladdr,
      mac0,
      'NA on return: server IPv6 entry points at eth0 again',
    )
    t.notOk(
      source.logs.some(l => l.event === 'error' || l.event === 'closed'),
      'the TCP stream was never reset',
    )
    t.notOk(
      erd.logs.some(l => l.code === 'ERD_ERR_NO_PERL'),
      'perl found: NAs, not the NS fallback',
    )
    t.notOk(
      erd.logs.some(l => JSON.stringify(l.failed ?? []).includes('erd-na')),
      'the NA sender never failed',
    )
  },
)
