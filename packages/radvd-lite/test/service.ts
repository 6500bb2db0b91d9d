// The service and its advertisers with the two seams replaced: a fake
// socket (records sends, injects received packets) and a fake link table.
// The real socket is exercised by the namespace tests in integration/.

import t from 'tap'
import { EventEmitter, once } from 'node:events'
import { createRadvdLite } from '../src/service.js'
import { parseConfig } from '../src/config.js'
import { buildRa, parseRa } from '../src/ra.js'
import { raContent } from '../src/ra-content.js'
import type { IcmpSocketOptions, IcmpSocket } from '../src/native.js'
import type { LinkInfo } from '../src/link.js'

interface Sent {
  data: Buffer
  dst: string
  src: string | undefined
  hop: number | undefined
}

function fakeNet(
  links: Record<string, LinkInfo>,
  opts: { failOpen?: string; failSend?: string } = {},
) {
  const ev = new EventEmitter()
  const sent: Sent[] = []
  const sockets: IcmpSocketOptions[] = []
  let closed = 0
  return {
    sent,
    sockets,
    get closed() {
      return closed
    },
    links,
    openSocket(o: IcmpSocketOptions): IcmpSocket {
      if (opts.failOpen)
        throw Object.assign(new Error(`open: ${opts.failOpen}`), {
          code: opts.failOpen,
        })
      sockets.push(o)
      return {
        ifname: o.ifname,
        ifindex: 7,
        send(data, dst, src, hop) {
          if (opts.failSend)
            throw Object.assign(new Error('send failed'), {
              code: opts.failSend,
            })
          sent.push({ data, dst, src, hop })
          ev.emit('sent')
        },
        close() {
          closed++
        },
      }
    },
    readLink: async (name: string) => links[name] ?? { exists: false },
    async nextSend(): Promise<Sent> {
      const n = sent.length
      while (sent.length <= n) await once(ev, 'sent')
      return sent[n]!
    },
    receive(data: string, src: string, hopLimit: number) {
      sockets.at(-1)!.onPacket({
        data: Buffer.from(data, 'hex'),
        src,
        hopLimit,
        ifindex: 7,
        dst: 'ff02::2',
      })
    },
  }
}

const ETH0: LinkInfo = {
  exists: true,
  linkLocal: 'fe80::1',
  mac: '02:00:00:00:00:01',
  mtu: 1500,
}
const conf = (
  extra = '',
  prefixes = 'prefix 2001:db8:1::/64 { }; prefix 2001:db8:2::/64 { AdvValidLifetime 3600; AdvPreferredLifetime 600; };',
) =>
  parseConfig(
    `interface eth0 { AdvSendAdvert on; MaxRtrAdvInterval 60; ${extra} ${prefixes} };`,
    'svc.conf',
  ).config!

t.test(
  'advertises, answers RS, counts bad ones, deprecates on reload, final RAs',
  async t => {
    const net = fakeNet({ eth0: ETH0 })
    const first = net.nextSend()
    const svc = await createRadvdLite({
      config: conf(),
      openSocket: net.openSocket,
      readLink: net.readLink,
      random: () => 0,
    })
    t.same(net.sockets[0]!.types, [133, 134], 'only RS and RA pass the filter')
    t.same(net.sockets[0]!.groups, ['ff02::2'], 'joins all-routers')
    const ra = await first
    t.match(ra, { dst: 'ff02::1', src: 'fe80::1', hop: 255 })
    t.match(parseRa(ra.data), {
      routerLifetime: 180,
      sourceLL: '02:00:00:00:00:01',
    })

    // Valid RS: unicast answer (AdvRASolicitedUnicast defaults on).
    let next = net.nextSend()
    net.receive('8500000000000000', 'fe80::99', 255)
    t.match(await next, { dst: 'fe80::99' })

    // Hop limit below 255 and malformed: counted, not answered.
    const before = net.sent.length
    net.receive('8500000000000000', 'fe80::98', 64)
    net.receive('8501000000000000', 'fe80::97', 255)
    net.receive('85000000', 'fe80::97', 255)
    const metrics = await svc.registry.metrics()
    t.match(
      metrics,
      /radvd_lite_rs_dropped_total\{interface="eth0",reason="hoplimit"\} 1/,
    )
    t.match(
      metrics,
      /radvd_lite_rs_dropped_total\{interface="eth0",reason="malformed"\} 2/,
    )
    t.match(metrics, /radvd_lite_rs_received_total\{interface="eth0"\} 1/)
    t.match(
      metrics,
      /radvd_lite_ra_sent_total\{interface="eth0",kind="unicast"\} 1/,
    )
    const st = svc.status()
    t.match(st.interfaces[0], {
      name: 'eth0',
      state: 'advertising',
      ifindex: 7,
      linkLocal: 'fe80::1',
      raSent: 2,
      rsReceived: 1,
      rsDropped: { hoplimit: 1, malformed: 2 },
      lastRs: { src: 'fe80::99' },
      lastRa: { kind: 'unicast', dst: 'fe80::99' },
    })
    t.equal(net.sent.length, before, 'nothing sent for bad solicitations')

    // Another router's RA: compared with ours (RFC 4861 6.2.7), counted.
    const foreign = buildRa({
      ...raContent(conf().interfaces[0]!, { now: 0 }),
      curHopLimit: 10,
    })
    net.receive(foreign.toString('hex'), 'fe80::77', 255)
    net.receive(
      buildRa(raContent(conf().interfaces[0]!, { now: 0 })).toString('hex'),
      'fe80::78',
      255,
    )
    net.receive('86000000', 'fe80::79', 255)
    net.receive(foreign.toString('hex'), 'fe80::77', 64) // off-link: ignored
    net.receive(foreign.toString('hex'), 'fe80::1', 255) // our own address: ignored
    const fm = await svc.registry.metrics()
    t.match(
      fm,
      /radvd_lite_foreign_ra_total\{interface="eth0",result="inconsistent"\} 1/,
    )
    t.match(
      fm,
      /radvd_lite_foreign_ra_total\{interface="eth0",result="consistent"\} 1/,
    )
    t.match(
      fm,
      /radvd_lite_foreign_ra_total\{interface="eth0",result="malformed"\} 1/,
    )

    // Reload without 2001:db8:2::/64: still advertised, preferred 0.
    await svc.reload(conf('', 'prefix 2001:db8:1::/64 { };'))
    next = net.nextSend()
    net.receive('8500000000000000', 'fe80::99', 255)
    const after = parseRa((await next).data)
    t.same(
      after.prefixes.map(p => [p.prefix, p.preferred]),
      [
        ['2001:db8:1::', 14400],
        ['2001:db8:2::', 0],
      ],
    )
    t.ok(after.prefixes[1]!.valid <= 3600 && after.prefixes[1]!.valid > 3590)
    const st2 = svc.status()
    t.match(st2.interfaces[0]!.prefixes[1], {
      prefix: '2001:db8:2::/64',
      preferred: 0,
      deprecated: true,
    })

    // Shutdown: three final RAs with router lifetime 0, then the socket closes.
    const n = net.sent.length
    await svc.close()
    const finals = net.sent.slice(n)
    t.equal(finals.length, 3)
    for (const f of finals) t.match(parseRa(f.data), { routerLifetime: 0 })
    t.equal(net.closed, 1)
    await svc.close()
    t.equal(net.sent.length, n + 3, 'close twice is harmless')
  },
)

t.test('missing interface, privilege and socket errors', async t => {
  const strict = conf('IgnoreIfMissing off;')
  const net = fakeNet({})
  await t.rejects(
    createRadvdLite({
      config: strict,
      openSocket: net.openSocket,
      readLink: net.readLink,
    }),
    { code: 'RA_ERR_IFACE_MISSING' },
  )
  const eperm = fakeNet({ eth0: ETH0 }, { failOpen: 'EPERM' })
  await t.rejects(
    createRadvdLite({
      config: conf(),
      openSocket: eperm.openSocket,
      readLink: eperm.readLink,
    }),
    { code: 'RA_ERR_PRIVILEGE', message: /CAP_NET_RAW/ },
  )
  const eio = fakeNet({ eth0: ETH0 }, { failOpen: 'EIO' })
  await t.rejects(
    createRadvdLite({
      config: conf(),
      openSocket: eio.openSocket,
      readLink: eio.readLink,
    }),
    { code: 'RA_ERR_SOCKET' },
  )
  // The addon loader's own error reaches the user as it is, not as RA_ERR_SOCKET.
  const unbuilt = fakeNet({ eth0: ETH0 }, { failOpen: 'RA_ERR_NATIVE' })
  await t.rejects(
    createRadvdLite({
      config: conf(),
      openSocket: unbuilt.openSocket,
      readLink: unbuilt.readLink,
    }),
    { code: 'RA_ERR_NATIVE' },
  )
})

t.test('waits for a missing interface and for a usable link-local', async t => {
  const net = fakeNet({})
  const svc = await createRadvdLite({
    config: conf(),
    openSocket: net.openSocket,
    readLink: net.readLink,
  })
  t.teardown(() => svc.close())
  t.match(svc.status().interfaces[0], {
    state: 'missing',
  })
  // The interface appears, but its link-local is still tentative.
  net.links.eth0 = { exists: true, mac: '02:00:00:00:00:01', mtu: 1500 }
  const sent = net.nextSend()
  await t.resolves(
    new Promise<void>(resolve => {
      const iv = setInterval(() => {
        if (net.sockets.length) {
          clearInterval(iv)
          resolve()
        }
      }, 20)
    }),
  )
  t.match(svc.status().interfaces[0], {
    state: 'waiting-link-local',
  })
  net.links.eth0 = ETH0
  t.match(await sent, { src: 'fe80::1', dst: 'ff02::1' })
  t.match(svc.status().interfaces[0], {
    state: 'advertising',
  })
})

t.test(
  'AdvSendAdvert off opens nothing; reload turns it on; send errors are counted',
  async t => {
    const net = fakeNet({ eth0: ETH0 })
    const off = parseConfig(
      'interface eth0 { AdvSendAdvert off; };',
      'x',
    ).config!
    const svc = await createRadvdLite({
      config: off,
      openSocket: net.openSocket,
      readLink: net.readLink,
    })
    t.equal(net.sockets.length, 0)
    t.match(svc.status().interfaces[0], {
      state: 'disabled',
    })
    const sent = net.nextSend()
    await svc.reload(conf())
    await sent
    t.equal(net.sockets.length, 1)
    // Interface dropped from the config: final RAs, then gone from status.
    await svc.reload(
      parseConfig('interface eth9 { AdvSendAdvert off; };', 'x').config!,
    )
    t.match(
      svc.status().interfaces.map(i => i.name),
      ['eth9'],
    )
    await svc.close()

    const bad = fakeNet({ eth0: ETH0 }, { failSend: 'ENOBUFS' })
    const svc2 = await createRadvdLite({
      config: conf(),
      openSocket: bad.openSocket,
      readLink: bad.readLink,
    })
    t.match(
      await svc2.registry.metrics(),
      /radvd_lite_send_errors_total\{interface="eth0"\} 1/,
    )
    await svc2.close()
  },
)

t.test(
  'dropped solicitations leave a rate-limited warning in the log',
  async t => {
    const { Writable } = await import('node:stream')
    const { createLogger } = await import('@has/daemon-kit')
    const lines: {
      level: number
      msg: string
      reason?: string
      source?: string
      dropped?: Record<string, number>
      topSource?: string
    }[] = []
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n'))
          if (l) lines.push(JSON.parse(l))
        cb()
      },
    })
    const net = fakeNet({ eth0: ETH0 })
    const first = net.nextSend()
    const svc = await createRadvdLite({
      config: conf(),
      openSocket: net.openSocket,
      readLink: net.readLink,
      random: () => 0,
      logger: createLogger({ name: 'radvd-lite', destination }),
    })
    await first
    for (let i = 0; i < 5; i++) net.receive('8500000000000000', 'fe80::98', 64)
    net.receive('85000000', 'fe80::97', 255)
    await svc.close()
    await new Promise(r => setImmediate(r))
    const warns = lines.filter(l => l.level === 40)
    t.match(
      warns[0],
      { reason: 'rs-hoplimit', source: 'fe80::98' },
      'the first drop at once',
    )
    t.match(
      warns.at(-1),
      {
        dropped: { 'rs-hoplimit': 4, 'rs-malformed': 1 },
        topSource: 'fe80::98',
      },
      'the rest summed at stop',
    )
    t.equal(warns.length, 2, 'two lines for six drops')
  },
)
