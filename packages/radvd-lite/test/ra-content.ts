import t from 'tap'
import { parseConfig, INFINITY } from '../src/config.js'
import {
  diffPrefixes,
  pruneDeprecated,
  raContent,
  DEPRECATE_VALID_CAP,
} from '../src/ra-content.js'

const cfg = (prefixes: string) =>
  parseConfig(
    `interface eth0 { AdvSendAdvert on; MaxRtrAdvInterval 60; ${prefixes} };`,
    'x',
  ).config!.interfaces[0]!

t.test(
  'a prefix removed by reload is deprecated, counting down, then dropped',
  async t => {
    const a = cfg(
      'prefix 2001:db8:1::/64 { }; prefix 2001:db8:2::/64 { AdvValidLifetime 3600; AdvPreferredLifetime 1800; };',
    )
    const b = cfg('prefix 2001:db8:1::/64 { };')
    const dep = diffPrefixes(a.prefixes, b.prefixes, [], 1_000_000)
    t.equal(dep.length, 1)
    t.equal(dep[0]!.prefix.prefix, '2001:db8:2::')
    t.equal(
      dep[0]!.expiresAt,
      1_000_000 + 3600_000,
      'valid lifetime below 2 h kept',
    )

    const at = (now: number) => raContent(b, { now, deprecated: dep }).prefixes
    t.same(
      at(1_000_000).map(p => [p.prefix, p.valid, p.preferred]),
      [
        ['2001:db8:1::', 86400, 14400],
        ['2001:db8:2::', 3600, 0],
      ],
    )
    t.same(at(1_000_000 + 600_000)[1], {
      prefix: '2001:db8:2::',
      length: 64,
      onLink: true,
      autonomous: true,
      routerAddr: false,
      valid: 3000,
      preferred: 0,
    })
    t.equal(
      at(1_000_000 + 3600_000).length,
      1,
      'gone when the valid lifetime is over',
    )
    t.same(pruneDeprecated(dep, 1_000_000 + 3600_000), [])

    // A long valid lifetime is capped at 2 h (RFC 4862 5.5.3 e).
    const big = diffPrefixes(
      cfg(
        'prefix 2001:db8:3::/64 { AdvValidLifetime infinity; AdvPreferredLifetime infinity; };',
      ).prefixes,
      [],
      [],
      0,
    )
    t.equal(big[0]!.expiresAt, DEPRECATE_VALID_CAP * 1000)
    // Valid lifetime 0 is not advertised again.
    t.same(
      diffPrefixes(
        cfg(
          'prefix 2001:db8:4::/64 { AdvValidLifetime 0; AdvPreferredLifetime 0; };',
        ).prefixes,
        [],
        [],
        0,
      ),
      [],
    )
  },
)

t.test(
  'a deprecated prefix that comes back is advertised normally; others stay',
  async t => {
    const a = cfg('prefix 2001:db8:1::/64 { }; prefix 2001:db8:2::/64 { };')
    const none = cfg('')
    const dep = diffPrefixes(a.prefixes, none.prefixes, [], 0)
    t.equal(dep.length, 2)
    const back = cfg('prefix 2001:db8:1::/64 { };')
    const dep2 = diffPrefixes(none.prefixes, back.prefixes, dep, 1000)
    t.same(
      dep2.map(d => d.prefix.prefix),
      ['2001:db8:2::'],
    )
    // Removing again restarts the countdown only for newly removed ones.
    const dep3 = diffPrefixes(back.prefixes, none.prefixes, dep2, 5000)
    t.same(
      dep3.map(d => [d.prefix.prefix, d.expiresAt]),
      [
        ['2001:db8:2::', 7200_000],
        ['2001:db8:1::', 5000 + 7200_000],
      ],
    )
  },
)

t.test(
  'final RA: router lifetime 0 and the Remove/Flush/Deprecate options',
  async t => {
    const i = parseConfig(
      `interface eth0 { AdvSendAdvert on; AdvLinkMTU 1500;
    prefix 2001:db8:1::/64 { DeprecatePrefix on; AdvValidLifetime infinity; AdvPreferredLifetime infinity; };
    prefix 2001:db8:2::/64 { };
    route 2001:db8:9::/48 { }; route 2001:db8:8::/48 { RemoveRoute off; };
    RDNSS 2001:db8::53 { }; RDNSS 2001:db8::54 { FlushRDNSS off; };
    DNSSL a.example { }; DNSSL b.example { FlushDNSSL off; }; };`,
      'x',
    ).config!.interfaces[0]!
    const c = raContent(i, { now: 0, final: true, mac: '02:00:00:00:00:01' })
    t.equal(c.routerLifetime, 0)
    t.same(
      c.prefixes.map(p => [p.valid, p.preferred]),
      [
        [DEPRECATE_VALID_CAP, 0],
        [86400, 14400],
      ],
    )
    t.same(
      c.routes.map(r => r.lifetime),
      [0, 1800],
    )
    t.same(
      c.rdnss.map(r => r.lifetime),
      [0, 600],
    )
    t.same(
      c.dnssl.map(r => r.lifetime),
      [0, 600],
    )
    t.equal(c.mtu, 1500)
    t.equal(c.sourceLL, '02:00:00:00:00:01')
    const normal = raContent(i, { now: 0 })
    t.equal(normal.routerLifetime, 1800)
    t.equal(normal.prefixes[0]!.valid, INFINITY)
    t.notOk('sourceLL' in normal, 'no SLLA without a MAC')
  },
)
