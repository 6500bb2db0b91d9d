import t from 'tap'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main, formatStatus } from '../src/cli.js'

const io = () => {
  const out: string[] = []
  const err: string[] = []
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err }
}

t.test('--check-config: 0 for a good file, 3 with file:line for a bad one', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-'))
  const good = join(dir, 'good.conf')
  const bad = join(dir, 'bad.conf')
  writeFileSync(good, 'node m1\npeer 127.0.0.1:7000\nauth-key secret-key-1\nservice 10.0.0.100:80\n')
  writeFileSync(bad, 'node m1\npeer 127.0.0.1:7000\nauth-key secret-key-1\nservice 10.0.0.100\n')
  const a = io()
  t.equal(await main(['node', 'conn-syncd', '--check-config', '--config', good], a.io), 0)
  t.match(a.out.join(''), /configuration OK/)
  const b = io()
  t.equal(await main(['node', 'conn-syncd', '--check-config', '--config', bad], b.io), 3)
  t.match(b.err.join(''), /bad\.conf:4: service .*\(got "10\.0\.0\.100"\)/)
  const c = io()
  t.equal(await main(['node', 'conn-syncd', '--bogus'], c.io), 2)
})

t.test('status text', async t => {
  const text = formatStatus({
    node: 'm1', listen: '10.0.0.11:6950', localFlows: 3, heldEntries: 2, sent: 10, received: 8, lost: 1, dropped: 0,
    resyncRequested: 1, resyncServed: 1, inserted: 2, insertFailed: 0,
    peers: [{ name: 'm2', address: '10.0.0.12:6950', lastSeenMsAgo: 1000, entries: 2, received: 8, lost: 1, resyncsServed: 1, resyncsReceived: 1 }],
  })
  t.match(text, /PEER\s+ADDRESS\s+ENTRIES/)
  t.match(text, /m2\s+10\.0\.0\.12:6950\s+2\s+8\s+1\s+1/)
})
