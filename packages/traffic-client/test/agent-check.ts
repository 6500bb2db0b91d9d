import t from 'tap'
import { connect } from 'node:net'
import { within } from '@has/test-support'
import { agentReply } from '../src/agent-check.js'
import { startAgentServer } from '../src/agent-server.js'

t.test('replies per flag', async t => {
  t.equal(agentReply('report', 73.4), '73% ready up\n')
  t.equal(
    agentReply('report', 0),
    '1% ready up\n',
    'a busy ready node stays eligible',
  )
  t.equal(agentReply('report', 250), '100% ready up\n')
  t.equal(agentReply('report', NaN), '1% ready up\n')
  t.equal(agentReply('drain', 80), '0% drain\n')
  t.equal(agentReply('paused', 80), '0% down #paused\n')
})

function ask(port: number, send?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    let got = ''
    s.on('data', d => (got += d.toString()))
    s.on('end', () => resolve(got))
    s.on('error', reject)
    if (send) s.write(send)
  })
}

t.test('server: one line, then close; agent-send text is ignored', async t => {
  let reply = '50% ready up\n'
  let answered = 0
  const srv = await startAgentServer({
    addr: '127.0.0.1',
    port: 0,
    reply: () => reply,
    onAnswer: () => answered++,
  })
  t.teardown(() => srv.close())
  t.equal(await ask(srv.address.port), '50% ready up\n')
  reply = '0% drain\n'
  t.equal(await ask(srv.address.port, 'state\n'), '0% drain\n')
  t.equal(answered, 2)
  await t.rejects(
    startAgentServer({
      addr: '127.0.0.1',
      port: srv.address.port,
      reply: () => '',
    }),
    { code: 'TC_ERR_AGENT_LISTEN' },
  )
})

t.test('a peer that keeps sending cannot hold the connection open', async t => {
  // Regression: an idle timeout (reset by every byte received) let a peer
  // that never closed and sent a byte now and then hold a socket forever.
  const srv = await startAgentServer({
    addr: '127.0.0.1',
    port: 0,
    reply: () => '1% ready up\n',
    maxConnectionMs: 100,
  })
  t.teardown(() => srv.close())
  const s = connect({
    port: srv.address.port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  })
  // Writing on after the server closed makes the kernel reset the socket
  // (EPIPE / ECONNRESET here), which is how this side sees the close.
  s.on('error', () => {})
  const closed = new Promise<void>(resolve => s.once('close', resolve))
  const drip = setInterval(() => {
    if (!s.destroyed) s.write('x')
  }, 10)
  t.teardown(() => clearInterval(drip))
  await within(closed, 3000, 'the server to close a busy peer')
  t.pass('closed although the peer kept sending')
})
