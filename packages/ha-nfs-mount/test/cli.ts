import t from 'tap'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main, formatStatus } from '../src/cli.js'

const io = () => {
  const out: string[] = []
  const err: string[] = []
  return {
    io: {
      out: (s: string) => void out.push(s),
      err: (s: string) => void err.push(s),
    },
    out,
    err,
  }
}

t.test('--check-config: 0 when valid, 3 with file:line when not', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'hnm-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const good = join(dir, 'good.conf')
  const bad = join(dir, 'bad.conf')
  await writeFile(good, 'a,b:/export /mnt/x soft\n')
  await writeFile(bad, '# comment\nfailures lots\na,b:/export /mnt/x\n')
  let c = io()
  t.equal(
    await main(['node', 'hnm', '--config', good, '--check-config'], c.io),
    0,
  )
  t.match(c.out.join(''), /configuration OK/)
  c = io()
  t.equal(
    await main(['node', 'hnm', '--config', bad, '--check-config'], c.io),
    3,
  )
  t.match(
    c.err.join(''),
    `${bad}:2: failures: expected an integer from 1 to 100 (got "lots")`,
  )
  c = io()
  t.equal(
    await main(
      [
        'node',
        'hnm',
        'a,b:/e',
        '/mnt/p',
        '-o',
        'ha-failures=x',
        '--check-config',
      ],
      c.io,
    ),
    3,
  )
  t.match(c.err.join(''), '<command line>:1: ha-failures')
  c = io()
  t.equal(
    await main(['node', 'hnm', 'sync', '/src', '/dst', '--check-config'], c.io),
    0,
  )
})

t.test('--bind-map repeats and leaves the positionals alone', async t => {
  const c = io()
  const code = await main(
    [
      'node',
      'hnm',
      '--mounter',
      'bind',
      '--bind-map',
      's1:/e=/srv/1',
      '--bind-map',
      's2:/e=/srv/2',
      's1,s2:/e',
      '/mnt/p',
      '--check-config',
    ],
    c.io,
  )
  t.equal(code, 0, c.err.join(''))
})

t.test('usage errors exit 2', async t => {
  let c = io()
  t.equal(
    await main(['node', 'hnm', 'a,b:/e'], c.io),
    2,
    'source without mount point',
  )
  c = io()
  t.equal(await main(['node', 'hnm', '--nope'], c.io), 2)
  c = io()
  t.equal(await main(['node', 'hnm', 'sync', '/only-one'], c.io), 2)
  c = io()
  t.equal(await main(['node', 'hnm', '--version'], c.io), 0)
  t.match(c.out.join(''), /^\d+\.\d+\.\d+/)
})

t.test('status against no daemon: runtime error 1', async t => {
  const c = io()
  t.equal(
    await main(
      ['node', 'hnm', 'status', '--control', '/nonexistent/hnm.sock'],
      c.io,
    ),
    1,
  )
  t.match(c.err.join(''), /KIT_ERR_CONTROL_UNREACHABLE/)
})

t.test('formatStatus', async t => {
  const text = formatStatus({
    mounts: [
      {
        mountPoint: '/mnt/CommonNFS',
        source: 'a,b:/export',
        active: 'b',
        layers: ['a', 'b'],
        failovers: 1,
        lastFailover: null,
        servers: [
          {
            name: 'a',
            healthy: false,
            staged: true,
            consecutiveFailures: 3,
            lastError: 'rpc: ECONNREFUSED',
            rpc: {},
            rpcMs: 0.4,
            statMs: 2,
          },
          {
            name: 'b',
            healthy: true,
            staged: true,
            consecutiveFailures: 0,
            lastError: null,
            rpc: { 3: 'SUCCESS', 4: 'SUCCESS' },
            rpcMs: 0.5,
            statMs: 2,
          },
        ],
      },
    ],
    syncs: [
      {
        source: '/srv/export',
        target: 'rsync://b/export/',
        state: 'idle',
        passes: 4,
        failures: 0,
        consecutiveFailures: 0,
        lastError: null,
        lastSuccess: null,
        lastLagMs: 120,
        pendingMs: null,
        nextRetryMs: null,
      },
    ],
  })
  t.match(text, '/mnt/CommonNFS  a,b:/export  active=b  failovers=1')
  t.match(text, /a\s+down\s+3\s+-?\s*0\.4\s+rpc: ECONNREFUSED/)
  t.match(text, /b\s+up\s+\*\s+0\s+v3:SUCCESS,v4:SUCCESS/)
  t.match(
    text,
    /\/srv\/export\s+rsync:\/\/b\/export\/\s+idle\s+4\s+0\s+120\s+-/,
  )
})

t.test('the example configs are valid', async t => {
  for (const f of [
    '../../../examples/traffic-node/ha-nfs-mount/ha-nfs-mount.conf',
    '../../../examples/master-node/ha-nfs-mount/ha-nfs-mount-sync.conf',
  ]) {
    const path = new URL(f, import.meta.url).pathname
    const c = io()
    t.equal(
      await main(['node', 'hnm', '--config', path, '--check-config'], c.io),
      0,
      path,
    )
  }
})
