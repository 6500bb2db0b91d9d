import t from 'tap'
import { readFileSync } from 'node:fs'
import { ConfigError, configOrThrow } from '@has/daemon-kit'
import { parseConfig, DEFAULTS } from '../src/config.js'

t.test('directives', async t => {
  const c = configOrThrow(
    parseConfig(
      '# comment\nremote 10.0.0.2:9101\nremote [fd00::2]:9101\ncontrol erd /run/x/erd.sock\ntimeout 500ms\n',
      'h.conf',
    ),
  )
  t.same(c, {
    remotes: ['10.0.0.2:9101', '[fd00::2]:9101'],
    controls: { erd: '/run/x/erd.sock' },
    timeoutMs: 500,
  })
  t.same(configOrThrow(parseConfig('', 'h.conf')), DEFAULTS)
})

t.test('every bad line named with file:line and the value', async t => {
  const text =
    'remote nowhere\ncontrol nfsd /x\ntimeout soon\nbogus 1\nremote\n'
  const e = t.throws(() =>
    configOrThrow(parseConfig(text, 'h.conf')),
  ) as ConfigError
  t.type(e, ConfigError)
  t.same(
    e.issues.map(i => [i.line, i.value]),
    [
      [1, 'nowhere'],
      [2, 'nfsd'],
      [3, 'soon'],
      [4, 'bogus'],
      [5, 'remote'],
    ],
  )
  t.match(e.message, /h\.conf:2: control: unknown daemon/)
})

t.test('examples/monitoring/hasctl.conf parses', async t => {
  const file = new URL(
    '../../../examples/monitoring/hasctl.conf',
    import.meta.url,
  )
  const c = configOrThrow(
    parseConfig(readFileSync(file, 'utf8'), file.pathname),
  )
  t.equal(c.remotes.length, 3)
  t.equal(c.controls['ha-nfs-mount'], '/run/has/ha-nfs-mount-sync.sock')
})
