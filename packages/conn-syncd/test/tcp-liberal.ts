// The start check of net.netfilter.nf_conntrack_tcp_be_liberal: named in a
// warning when 0, silent when 1, and never fatal (unreadable: unknown).
// Why it matters is shown end to end by bench/chaos.js (a second failover
// after a SIGSTOP takeover lost old streams with it off).
import t from 'tap'
import { captureLogger } from '@has/test-support'
import { checkTcpLiberal, TCP_LIBERAL_SYSCTL } from '../src/tcp-liberal.js'

const capture = () => {
  const c = captureLogger('conn-syncd')
  return { log: c.logger, lines: c.lines }
}

t.test(
  '0 is named in a warning; 1 is silent; unreadable is unknown',
  async t => {
    const off = capture()
    t.equal(
      checkTcpLiberal(off.log, () => '0\n'),
      'off',
    )
    await new Promise(r => setImmediate(r))
    t.equal(off.lines.length, 1)
    t.match(off.lines[0], {
      level: 40,
      sysctl: TCP_LIBERAL_SYSCTL,
      msg: /nf_conntrack_tcp_be_liberal is 0: .*set it to 1/,
    })
    const on = capture()
    t.equal(
      checkTcpLiberal(on.log, () => '1\n'),
      'on',
    )
    const none = capture()
    t.equal(
      checkTcpLiberal(none.log, () => {
        throw new Error('ENOENT')
      }),
      'unknown',
    )
    await new Promise(r => setImmediate(r))
    t.same([...on.lines, ...none.lines], [])
  },
)
