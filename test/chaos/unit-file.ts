// The chaos harness honours what the example units say (Restart=,
// RestartSec=, Environment=), read from the files, not restated in code:
// a changed example must change what the harness runs.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from '@has/test-support'

interface DropIn {
  restart: string | undefined
  restartMs: number | undefined
  environment: string[]
}
interface UnitFile {
  parseDropIn: (text: string) => DropIn
}

const lib = (await import(
  join(ROOT, 'bench/lib/chaos/unit-file.js')
)) as UnitFile

t.test('the nginx drop-in the harness runs is the shipped one', async t => {
  const text = readFileSync(
    join(ROOT, 'examples/traffic-node/nginx/nginx.service.d/has.conf'),
    'utf8',
  )
  const d = lib.parseDropIn(text)
  t.equal(d.restart, 'on-failure')
  t.equal(d.restartMs, 200, 'RestartSec=200ms')
  t.same(d.environment, ['NGINX=3;4;'])
})

t.test('drop-in values: durations, quoted environment', async t => {
  const d = lib.parseDropIn(
    '[Service]\nRestart=always\nRestartSec=1.5s\nEnvironment="A=1 2" B=3\n# RestartSec=9\n',
  )
  t.equal(d.restart, 'always')
  t.equal(d.restartMs, 1500)
  t.same(d.environment, ['A=1 2', 'B=3'])
  t.same(lib.parseDropIn('[Service]\n'), {
    restart: undefined,
    restartMs: undefined,
    environment: [],
  })
  t.throws(() => lib.parseDropIn('RestartSec=soon\n'), /RestartSec=soon/)
})
