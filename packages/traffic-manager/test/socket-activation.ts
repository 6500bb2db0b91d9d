// The pure parts of socket activation: which fds are ours, and where each
// inherited socket listens (from /proc/net/tcp*).
import t from 'tap'
import {
  canonicalAddress,
  listenFds,
  matchInherited,
  parseProcNetTcp,
} from '../src/socket-activation.js'

t.test('LISTEN_FDS is taken only when LISTEN_PID is this process', async t => {
  t.same(
    listenFds(
      { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'vip4:vip6' },
      42,
    ),
    [
      { fd: 3, name: 'vip4' },
      { fd: 4, name: 'vip6' },
    ],
  )
  t.same(
    listenFds({ LISTEN_PID: '41', LISTEN_FDS: '2' }, 42),
    [],
    "another process's sockets",
  )
  t.same(listenFds({ LISTEN_FDS: '2' }, 42), [], 'no LISTEN_PID')
  t.same(listenFds({ LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42), [])
  t.same(
    listenFds({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42),
    [{ fd: 3, name: 'unknown' }],
    'no names',
  )
})

t.test(
  'listening sockets and their addresses from /proc/net/tcp and tcp6',
  async t => {
    const v4 = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 6400000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 20 4 30 10 -1',
    ].join('\n')
    t.same(
      [...parseProcNetTcp(v4)],
      [['1234', { address: '10.0.0.100', port: 80 }]],
      'LISTEN only; byte order undone',
    )
    const v6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: B80D0120000001000000000000010000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5678 1 0000000000000000 100 0 0 10 0',
      '   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91 1 0000000000000000 100 0 0 10 0',
    ].join('\n')
    t.same(
      [...parseProcNetTcp(v6)],
      [
        ['5678', { address: '2001:db8:1::100', port: 80 }],
        ['91', { address: '::1', port: 8080 }],
      ],
    )
  },
)

t.test(
  'a service matches the inherited socket with its address and port',
  async t => {
    const socks = [
      { fd: 3, name: 'v6', address: '2001:db8:1::100', port: 80 },
      { fd: 4, name: 'v4', address: '127.0.0.1', port: 8080 },
    ]
    t.equal(
      matchInherited(socks, '2001:db8:1:0:0::100', 80)?.fd,
      3,
      'IPv6 compared canonically',
    )
    t.equal(matchInherited(socks, '127.0.0.1', 8080)?.fd, 4)
    t.equal(matchInherited(socks, '127.0.0.1', 8081), undefined, 'another port')
    t.equal(
      matchInherited(socks, '0.0.0.0', 8080),
      undefined,
      'no wildcard match',
    )
    t.equal(canonicalAddress('2001:DB8::1'), '2001:db8::1')
  },
)
