import t from 'tap'
import { resolvePaths, classify, broadcastOf } from '../src/paths.js'
import { parseHaCf } from '../src/config.js'
import type { Interfaces } from '../src/paths.js'

const ifaces: Interfaces = {
  lo: [
    {
      address: '127.0.0.1',
      netmask: '255.0.0.0',
      family: 'IPv4',
      mac: '',
      internal: true,
      cidr: null,
    },
  ],
  eth0: [
    {
      address: '10.0.0.1',
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '',
      internal: false,
      cidr: null,
    },
  ],
  eth1: [
    {
      address: '10.0.1.1',
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '',
      internal: false,
      cidr: null,
    },
  ],
}

t.test('same ha.cf on both nodes: our own ucast line is skipped', async t => {
  const { config } = parseHaCf(
    'bcast eth0\nucast eth1 10.0.1.1\nucast eth1 10.0.1.2\nmcast eth0 239.1.1.1 6000 1 0\nnode a b\n',
    'h',
  )
  const r = resolvePaths(config!.media, 694, ifaces)
  t.same(r.missing, [])
  t.same(
    r.paths.map(p => [p.name, p.dest, p.port]),
    [
      ['bcast eth0', '10.0.0.255', 694],
      ['ucast eth1', '10.0.1.2', 694],
      ['mcast eth0', '239.1.1.1', 6000],
    ],
  )
  t.equal(classify(r.paths, 'u', '10.0.1.2')?.name, 'ucast eth1')
  t.equal(classify(r.paths, 'b', '10.0.0.2')?.name, 'bcast eth0')
  t.equal(classify(r.paths, 'b', '192.168.0.1'), undefined)
  t.equal(broadcastOf('10.1.2.3', '255.255.0.0'), '10.1.255.255')
  const miss = resolvePaths(
    parseHaCf('bcast eth9\nnode a b\n', 'h').config!.media,
    694,
    ifaces,
  )
  t.same(miss.missing, [{ iface: 'eth9', where: 'h:1' }])
})
