// The shipped resource agents, run as heartbeatd runs them.
import t from 'tap'
import { join } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import { createAgentRunner, startGroup, stopGroup } from '../src/resources.js'
import { BUILTIN_RESOURCE_DIR, findAgent } from '../src/config.js'
import { silentLogger } from '@has/daemon-kit'
import type { ResourceGroup } from '../src/haresources.js'

t.test('hadaemon: start (idempotent), status, stop', async t => {
  const dir = t.testdir({})
  const hadaemon = findAgent('hadaemon', [BUILTIN_RESOURCE_DIR]) as string
  t.ok(hadaemon)
  const runner = createAgentRunner({
    agents: { hadaemon },
    env: { HA_RSCTMP: dir },
  })
  const r = {
    agent: 'hadaemon',
    args: ['sleeper', process.execPath, '-e', 'setTimeout(() => {}, 60000)'],
    spec: 'hadaemon::sleeper',
  }
  t.equal((await runner.run(r, 'status')).code, 3, 'stopped before start')
  t.ok((await runner.run(r, 'start')).ok)
  const pid = Number(readFileSync(join(dir, 'sleeper.pid'), 'utf8'))
  t.ok((await runner.run(r, 'start')).ok, 'start again is ok')
  t.equal(
    Number(readFileSync(join(dir, 'sleeper.pid'), 'utf8')),
    pid,
    'same process',
  )
  t.equal((await runner.run(r, 'status')).code, 0)
  t.ok((await runner.run(r, 'stop')).ok)
  t.notOk(existsSync(join(dir, 'sleeper.pid')))
  t.throws(() => process.kill(pid, 0), 'process gone')
  t.ok((await runner.run(r, 'stop')).ok, 'stop when stopped is ok')
  const bad = {
    agent: 'hadaemon',
    args: ['dies', 'false'],
    spec: 'hadaemon::dies::false',
  }
  t.notOk(
    (await runner.run(bad, 'start')).ok,
    'a daemon that exits at once is a failed start',
  )
})

t.test('a failed start rolls back what started, in reverse', async t => {
  const dir = t.testdir({})
  const agent = join(dir, 'rec')
  const { writeFileSync, chmodSync } = await import('node:fs')
  writeFileSync(
    agent,
    `#!/bin/sh\necho "$1 $2" >> ${dir}/log\n[ "$1" = bad ] && [ "$2" = start ] && exit 1\nexit 0\n`,
  )
  chmodSync(agent, 0o755)
  const runner = createAgentRunner({ agents: { rec: agent }, env: {} })
  const g: ResourceGroup = {
    name: 'a',
    home: 'a',
    at: { file: 'h', line: 1 },
    resources: ['one', 'two', 'bad', 'four'].map(x => ({
      agent: 'rec',
      args: [x],
      spec: `rec::${x}`,
    })),
  }
  t.equal(await startGroup(g, runner, silentLogger()), false)
  t.same(readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'), [
    'one start',
    'two start',
    'bad start',
    'bad stop',
    'two stop',
    'one stop',
  ])
  writeFileSync(join(dir, 'log'), '')
  t.equal(await stopGroup(g, runner, silentLogger()), true)
  t.same(readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'), [
    'four stop',
    'bad stop',
    'two stop',
    'one stop',
  ])
})
