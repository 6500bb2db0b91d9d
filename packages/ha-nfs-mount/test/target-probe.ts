import t from 'tap'
import { createServer } from 'node:net'
import { probeTarget, targetEndpoint } from '../src/target-probe.js'
import { portOf } from '@has/test-support'

t.test('the endpoint of a sync target', async t => {
  t.equal(
    targetEndpoint('/backup/export'),
    undefined,
    'local: nothing to probe',
  )
  t.same(targetEndpoint('rsync://master-b/export/'), {
    host: 'master-b',
    port: 873,
  })
  t.same(targetEndpoint('rsync://user@10.0.0.2:8873/m/d'), {
    host: '10.0.0.2',
    port: 8873,
  })
  t.same(targetEndpoint('rsync://[2001:db8::2]/m'), {
    host: '2001:db8::2',
    port: 873,
  })
  t.same(targetEndpoint('rsync://[2001:db8::2]:874/m'), {
    host: '2001:db8::2',
    port: 874,
  })
  t.same(targetEndpoint('master-b:/srv/x'), { host: 'master-b', port: 22 })
  t.same(targetEndpoint('root@[2001:db8::2]:/srv/x'), {
    host: '2001:db8::2',
    port: 22,
  })
  t.equal(targetEndpoint('rsync://h:99999/m'), undefined)
})

t.test('probe: open port, refused port', async t => {
  const server = createServer(s => s.destroy())
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const port = portOf(server)
  t.equal(await probeTarget({ host: '127.0.0.1', port }, 2000), undefined)
  server.close()
  await new Promise(r => server.once('close', r))
  t.equal(await probeTarget({ host: '127.0.0.1', port }, 2000), 'ECONNREFUSED')
})
