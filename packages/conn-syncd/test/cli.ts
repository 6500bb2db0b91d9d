import t from 'tap'
import { writeFileSync, mkdtempSync } from 'node:fs'
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

t.test(
  '--check-config: 0 for a good file, 3 with file:line for a bad one',
  async t => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-'))
    const good = join(dir, 'good.conf')
    const bad = join(dir, 'bad.conf')
    writeFileSync(
      good,
      'node m1\npeer 127.0.0.1:7000\nauth-key secret-key-1\nservice 10.0.0.100:80\n',
    )
    writeFileSync(
      bad,
      'node m1\npeer 127.0.0.1:7000\nauth-key secret-key-1\nservice 10.0.0.100\n',
    )
    const a = io()
    t.equal(
      await main(
        ['node', 'conn-syncd', '--check-config', '--config', good],
        a.io,
      ),
      0,
    )
    t.match(a.out.join(''), /configuration OK/)
    const b = io()
    t.equal(
      await main(
        ['node', 'conn-syncd', '--check-config', '--config', bad],
        b.io,
      ),
      3,
    )
    t.match(b.err.join(''), /bad\.conf:4: service .*\(got "10\.0\.0\.100"\)/)
    const c = io()
    t.equal(await main(['node', 'conn-syncd', '--bogus'], c.io), 2)
  },
)

t.test('status text', async t => {
  const text = formatStatus({
    node: 'm1',
    listen: '10.0.0.11:6950',
    localFlows: 3,
    heldEntries: 2,
    sent: 10,
    received: 8,
    lost: 1,
    dropped: 0,
    resyncRequested: 1,
    resyncServed: 1,
    inserted: 2,
    insertFailed: 0,
    peers: [
      {
        name: 'm2',
        address: '10.0.0.12:6950',
        lastSeenMsAgo: 1000,
        entries: 2,
        received: 8,
        lost: 1,
        resyncsServed: 1,
        resyncsReceived: 1,
      },
    ],
  })
  t.match(text, /PEER\s+ADDRESS\s+ENTRIES/)
  t.match(text, /m2\s+10\.0\.0\.12:6950\s+2\s+8\s+1\s+1/)
})

t.test(
  'every command the docs tell operators to run exists (18.4: `conn-syncd flows`)',
  async t => {
    const { readFileSync } = await import('node:fs')
    const { createProgram } = await import('../src/cli.js')
    const docs = [
      readFileSync(new URL('../README.md', import.meta.url), 'utf8'),
      readFileSync(
        new URL('../../../docs/conn-syncd.md', import.meta.url),
        'utf8',
      ),
      readFileSync(
        new URL('../resource.d/conn-syncd-ready', import.meta.url),
        'utf8',
      ),
    ].join('\n')
    // Commands as written for operators: in backticks, or a line of a code block.
    const named = new Set([
      ...[...docs.matchAll(/`conn-syncd ([a-z][a-z-]+)/g)].map(
        m => m[1] as string,
      ),
      ...[...docs.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].flatMap(b =>
        [...(b[1] ?? '').matchAll(/^conn-syncd ([a-z][a-z-]+)/gm)].map(
          m => m[1] as string,
        ),
      ),
    ])
    const commands = new Set(
      createProgram(io().io, { exitCode: 0 }).commands.map(c => c.name()),
    )
    const wanted = [...named]
    t.ok(
      wanted.includes('flows') &&
        wanted.includes('wait-ready') &&
        wanted.includes('status'),
      `found ${wanted.join(', ')}`,
    )
    for (const w of wanted) t.ok(commands.has(w), `conn-syncd ${w} exists`)
  },
)

t.test('flows text: one row per held entry, in the kernel or not', async t => {
  const { formatFlows } = await import('../src/cli.js')
  const text = formatFlows([
    {
      peer: 'm2',
      inKernel: true,
      proto: 6,
      src: '192.0.2.1',
      sport: 40000,
      dst: '10.0.0.100',
      dport: 80,
      natDst: '10.0.0.21',
      natDport: 8080,
    },
    {
      peer: 'm2',
      inKernel: false,
      proto: 6,
      src: '192.0.2.2',
      sport: 40001,
      dst: '10.0.0.100',
      dport: 80,
      natDst: '10.0.0.22',
      natDport: 8080,
    },
  ])
  t.match(text, /PEER\s+PROTO\s+CLIENT\s+SERVICE\s+NODE\s+IN-KERNEL/)
  t.match(
    text,
    /m2\s+tcp\s+192\.0\.2\.1:40000\s+10\.0\.0\.100:80\s+10\.0\.0\.21:8080\s+yes/,
  )
  t.match(text, /192\.0\.2\.2:40001.*\bno\b/)
})
