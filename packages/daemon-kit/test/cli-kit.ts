import t from 'tap'
import { Command } from 'commander'
import {
  addDaemonOptions,
  addControlOption,
  runProgram,
  checkConfig,
  reportError,
  formatTable,
  type CliIo,
  type DaemonFlags,
} from '../src/cli-kit.js'
import { startControlServer } from '../src/control.js'
import { startMetricsServer } from '../src/metrics-server.js'
import { Registry } from '../src/metrics.js'
import { ConfigError } from '../src/config-source.js'
import { HasError } from '../src/errors.js'

function io() {
  const out: string[] = []
  const err: string[] = []
  const io: CliIo = { out: s => void out.push(s), err: s => void err.push(s) }
  return { io, out, err }
}

t.test('exit statuses: ok, usage, config, coded, unexpected', async t => {
  const run = async (argv: string[], action: () => Promise<void> | void) => {
    const state = { exitCode: 0 }
    const p = new Command('x')
    addDaemonOptions(p, { config: '/etc/x.conf', control: '/tmp/x.sock' })
    p.action(action)
    const c = io()
    return {
      code: await runProgram(p, ['node', 'x', ...argv], c.io, state),
      ...c,
    }
  }
  t.equal((await run([], () => {})).code, 0)
  t.equal((await run(['--bogus'], () => {})).code, 2)
  t.equal((await run(['--log-level', 'loud'], () => {})).code, 2)
  const cfg = await run([], () => {
    throw new ConfigError([
      { file: 'x.conf', line: 3, message: 'bad', value: 'v' },
    ])
  })
  t.equal(cfg.code, 3)
  t.match(cfg.err.join(''), 'x.conf:3: bad (got "v")')
  const coded = await run([], () => {
    throw new HasError('X_ERR_Y', 'nope', { exitCode: 1 })
  })
  t.equal(coded.code, 1)
  t.match(coded.err.join(''), 'X_ERR_Y: nope')
  t.equal(
    (
      await run([], () => {
        throw new Error('boom')
      })
    ).code,
    1,
  )
})

t.test('checkConfig prints OK or the issues', async t => {
  const a = io()
  t.equal(await checkConfig(async () => ({}), 'a.conf', a.io), 0)
  t.match(a.out.join(''), 'a.conf: configuration OK')
  const b = io()
  t.equal(
    await checkConfig(
      async () => {
        throw new ConfigError([
          { file: 'b.conf', line: 9, message: 'unknown directive "foo"' },
        ])
      },
      'b.conf',
      b.io,
    ),
    3,
  )
  t.match(b.err.join(''), 'b.conf:9: unknown directive "foo"')
  const c = io()
  t.equal(
    reportError(Object.assign(new Error('x'), { code: 'ENOENT' }), c.io),
    1,
  )
})

t.test('formatTable aligns columns', async t => {
  t.equal(
    formatTable(
      ['A', 'Bee'],
      [
        ['1', 'x'],
        ['long', 'y'],
      ],
    ),
    'A     Bee\n1     x\nlong  y\n',
  )
})

t.test(
  'a subcommand asks the socket given before or after it, else its default',
  async t => {
    const asked = async (argv: string[]): Promise<string> => {
      let control = ''
      const p = new Command('x').enablePositionalOptions()
      addDaemonOptions(p, { config: '/etc/x.conf', control: '/run/x.sock' })
      p.action(() => {})
      const status = new Command('status')
      addControlOption(status, '/run/x.sock').action(
        (o: { control: string }) => {
          control = o.control
        },
      )
      p.addCommand(status)
      await runProgram(p, ['node', 'x', ...argv], io().io, { exitCode: 0 })
      return control
    }
    t.equal(await asked(['status']), '/run/x.sock', 'default')
    t.equal(await asked(['status', '--control', '/a.sock']), '/a.sock', 'after')
    t.equal(
      await asked(['--control', '/b.sock', 'status']),
      '/b.sock',
      'before',
    )
    t.equal(
      await asked(['--control', '/b.sock', 'status', '--control', '/a.sock']),
      '/a.sock',
      'after wins',
    )
  },
)

t.test(
  '--control-allow-remote / --metrics-allow-remote permit exactly the given address',
  async t => {
    const run = async (argv: string[]) => {
      const state = { exitCode: 0 }
      const p = new Command('x')
      addDaemonOptions(p, { config: '/etc/x.conf', control: '/tmp/x.sock' })
      p.action(async (flags: DaemonFlags) => {
        const c = await startControlServer({
          address: flags.control ?? '',
          handlers: {},
        })
        await c.close()
        if (flags.metrics)
          await (
            await startMetricsServer({
              listen: flags.metrics,
              registry: new Registry(),
            })
          ).close()
      })
      const c = io()
      return {
        code: await runProgram(p, ['node', 'x', ...argv], c.io, state),
        ...c,
      }
    }
    const refused = await run(['--control', '0.0.0.0:0'])
    t.equal(refused.code, 2)
    t.match(
      refused.err.join(''),
      /KIT_ERR_LISTEN_REMOTE: refusing a control listener on non-loopback 0\.0\.0\.0:0/,
    )
    t.equal(
      (await run(['--control', '0.0.0.0:0', '--control-allow-remote'])).code,
      0,
    )
    const m = await run([
      '--control',
      '127.0.0.1:0',
      '--metrics',
      '0.0.0.0:0',
      '--control-allow-remote',
    ])
    t.equal(m.code, 2, 'the control flag does not open /metrics')
    t.equal(
      (
        await run([
          '--control',
          '127.0.0.1:0',
          '--metrics',
          '0.0.0.0:0',
          '--metrics-allow-remote',
        ])
      ).code,
      0,
    )
  },
)
