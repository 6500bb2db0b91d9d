import t from 'tap'
import { linkLocalFrom, readLink } from '../src/link.js'

const IF_INET6 = `
20010db8000000000000000000000001 02 40 00 80     eth0
fe800000000000000000000000000001 02 40 20 c0     eth0
fe800000000000000000000000000002 02 40 20 80     eth0
fe800000000000000000000000000003 03 40 20 80     eth1
fe800000000000000000000000000004 04 40 20 88     eth2
00000000000000000000000000000001 01 80 10 80       lo
`

t.test('picks the first non-tentative link-local of the interface', async t => {
  t.equal(
    linkLocalFrom(IF_INET6, 'eth0'),
    'fe80::2',
    'tentative fe80::1 skipped',
  )
  t.equal(linkLocalFrom(IF_INET6, 'eth1'), 'fe80::3')
  t.equal(linkLocalFrom(IF_INET6, 'eth2'), undefined, 'DAD failed')
  t.equal(linkLocalFrom(IF_INET6, 'lo'), undefined, 'host scope')
  t.equal(linkLocalFrom('', 'eth0'), undefined)
})

t.test('readLink on loopback and on a missing interface', async t => {
  t.same(await readLink('no-such-if0'), { exists: false })
  const lo = await readLink('lo')
  t.equal(lo.exists, true)
  t.ok((lo.mtu ?? 0) > 0)
  t.notOk(lo.mac, 'all-zero MAC means no SLLA option')
})
