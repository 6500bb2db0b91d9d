import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildRa, parseRa, NdpParseError, splitOptions } from '../src/ra.js'
import { parseConfig } from '../src/config.js'
import { raContent } from '../src/ra-content.js'
import { FULL, DEFAULTS } from './fixtures/configs.js'

// Byte fixtures captured from the real radvd (see the fixture headers).
function wire(name: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {}
  for (const line of readFileSync(
    new URL(`./fixtures/wire/${name}.txt`, import.meta.url),
    'utf8',
  ).split('\n')) {
    const m = /^(\w+) ([0-9a-f]+)$/.exec(line)
    if (m) out[m[1]!] = Buffer.from(m[2]!, 'hex')
  }
  return out
}

const zeroSum = (b: Buffer): string => {
  const c = Buffer.from(b)
  c.writeUInt16BE(0, 2)
  return c.toString('hex')
}

for (const [name, make, mac] of [
  ['radvd-full', FULL, 'f2:cb:fe:a5:a5:1c'],
  ['radvd-defaults', DEFAULTS, '2a:3e:44:16:a5:28'],
] as const) {
  t.test(`builds the bytes radvd sent (${name})`, async t => {
    const fx = wire(name)
    const cfg = parseConfig(make('eth0'), 'x.conf').config!
    const iface = cfg.interfaces[0]!
    const sol = buildRa(raContent(iface, { now: 0, mac }))
    t.equal(zeroSum(sol), zeroSum(fx.solicited!), 'advertisement')
    const fin = buildRa(raContent(iface, { now: 0, mac, final: true }))
    t.equal(zeroSum(fin), zeroSum(fx.final!), 'final advertisement')
    // Round trip: decode the fixture, re-encode, same bytes.
    const { checksum, optionOrder, ...content } = parseRa(fx.solicited!)
    t.ok(checksum > 0)
    t.ok(optionOrder.length > 0)
    t.equal(
      zeroSum(buildRa(content)),
      zeroSum(fx.solicited!),
      'decode then encode',
    )
  })
}

t.test('decoder fields', async t => {
  const ra = parseRa(wire('radvd-full').solicited!)
  t.match(ra, {
    curHopLimit: 32,
    managed: true,
    other: true,
    preference: 'high',
    routerLifetime: 300,
    reachableTime: 25000,
    retransTimer: 1500,
    mtu: 1400,
    sourceLL: 'f2:cb:fe:a5:a5:1c',
    optionOrder: [3, 3, 24, 24, 25, 31, 5, 1],
  })
  t.same(ra.rdnss, [
    { lifetime: 200, servers: ['2001:db8:1::53', '2001:db8:1::54'] },
  ])
  t.same(ra.dnssl, [
    { lifetime: 150, domains: ['cluster.example', 'svc.example.org'] },
  ])
  t.same(ra.routes[0], {
    length: 48,
    preference: 'low',
    lifetime: 900,
    prefix: '2001:db8:100::',
  })
  t.same(ra.prefixes[1], {
    length: 64,
    onLink: false,
    autonomous: false,
    routerAddr: true,
    valid: 0xffffffff,
    preferred: 0xffffffff,
    prefix: '2001:db8:2::',
  })
})

t.test('malformed RAs are rejected with a reason', async t => {
  const good = wire('radvd-defaults').solicited!
  const cases: [string, Buffer, RegExp][] = [
    ['short', good.subarray(0, 10), /shorter/],
    [
      'type',
      Buffer.concat([Buffer.from([135]), good.subarray(1)]),
      /not an RA/,
    ],
    ['code', Buffer.concat([Buffer.from([134, 1]), good.subarray(2)]), /code/],
    [
      'zero-length option',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]),
      ]),
      /length 0/,
    ],
    [
      'overrun',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([3, 4, 0, 0, 0, 0, 0, 0]),
      ]),
      /overruns/,
    ],
    [
      'truncated',
      Buffer.concat([good.subarray(0, 16), Buffer.from([3])]),
      /truncated/,
    ],
    [
      'bad prefix len',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([3, 1, 0, 0, 0, 0, 0, 0]),
      ]),
      /prefix option/,
    ],
    [
      'bad mtu',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([5, 2]),
        Buffer.alloc(14),
      ]),
      /MTU/,
    ],
    [
      'bad rdnss',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([25, 1]),
        Buffer.alloc(6),
      ]),
      /RDNSS/,
    ],
    [
      'bad dnssl',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([31, 2, 0, 0, 0, 0, 0, 0, 70]),
        Buffer.alloc(7),
      ]),
      /DNSSL/,
    ],
    [
      'short dnssl',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([31, 1]),
        Buffer.alloc(6),
      ]),
      /DNSSL/,
    ],
    [
      'short route',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([24, 1, 64, 0, 0, 0, 0, 0]),
      ]),
      /route/,
    ],
    [
      'long route',
      Buffer.concat([
        good.subarray(0, 16),
        Buffer.from([24, 2, 65]),
        Buffer.alloc(13),
      ]),
      /route/,
    ],
  ]
  for (const [what, buf, re] of cases) {
    let err: unknown
    try {
      parseRa(buf)
    } catch (e) {
      err = e
    }
    t.ok(
      err instanceof NdpParseError && re.test(err.reason),
      `${what}: ${String(err)}`,
    )
  }
  // Unknown options are skipped, not fatal.
  const unk = Buffer.concat([
    good.subarray(0, 16),
    Buffer.from([200, 1, 0, 0, 0, 0, 0, 0]),
  ])
  t.same(parseRa(unk).optionOrder, [200])
  t.same(splitOptions(Buffer.alloc(8), 8), [])
  // A default route in a 1-unit option is valid (RFC 4191 2.3).
  const r0 = Buffer.concat([
    good.subarray(0, 16),
    Buffer.from([24, 1, 0, 0, 0, 0, 0, 9]),
  ])
  t.same(parseRa(r0).routes, [
    { length: 0, preference: 'medium', lifetime: 9, prefix: '::' },
  ])
})

t.test('short route prefixes and empty lists encode like radvd', async t => {
  const b = buildRa({
    curHopLimit: 0,
    managed: false,
    other: false,
    preference: 'low',
    routerLifetime: 0,
    reachableTime: 0,
    retransTimer: 0,
    prefixes: [],
    routes: [{ prefix: '::', length: 0, preference: 'high', lifetime: 1 }],
    rdnss: [],
    dnssl: [],
  })
  t.equal(b.length, 16 + 24)
  t.equal(b[5], 0x18, 'low preference bits')
  t.equal(b[16 + 1], 3, 'route option always 3 units')
  t.equal(b[16 + 3], 0x08, 'high route preference')
})
