// PROTOCOL.md is what another implementation reads (issue 19 item 13): its
// control-socket session is replayed against erd's real handlers, and its
// announcement frames are compared with what erd's helpers put on the wire.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'

import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CONTROL_MAX_LINE,
  packageVersion,
  runDaemon,
  silentLogger,
} from '@has/daemon-kit'
import {
  ManualClock,
  NetnsLab,
  needsRoot,
  run,
  waitFor,
  exchange,
} from '@has/test-support'
import { NA_SENDER } from '../src/announce.js'
import { ANNOUNCER, Announcer } from '../src/announcer.js'
import { DEFAULTS, type ErdConfig } from '../src/config.js'
import { createErd, type Erd } from '../src/erd.js'
import type { Kernel } from '../src/kernel.js'
import type { Route } from '../src/routes.js'

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8')
const block = (lang: string): string => {
  const m = new RegExp('```' + lang + '\\n([^`]*)```').exec(doc)
  if (!m) throw new Error(`PROTOCOL.md has no \`\`\`${lang} block`)
  return m[1] as string
}
/** A hex block: `#` starts a comment, white space is ignored. */
const hexBlock = (lang: string): Buffer => {
  const hex = block(lang)
    .split('\n')
    .map(l => l.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '')
  if (!/^([0-9a-f]{2})*$/.test(hex))
    throw new Error(`\`\`\`${lang} is not whole bytes of hex`)
  return Buffer.from(hex, 'hex')
}

/** One connection: the request line out, everything the daemon sends back. */
const ask = (path: string, line: string): Promise<string> =>
  exchange(path, `${line}\n`)

// The setup the doc states. The seam is erd's `Kernel`: the real one needs
// CAP_NET_ADMIN and two NICs; everything above it (selector, status,
// switch, the kit's control server and handlers) is the daemon's own.
const ROUTES: readonly Route[] = [
  {
    family: 4,
    dst: '10.0.0.0/24',
    dev: 'eth0',
    metric: 0,
    protocol: 'kernel',
    scope: 'link',
    prefsrc: '10.0.0.2',
  },
  { family: 6, dst: '::/0', dev: 'eth0', metric: 1024, gateway: '2001:db8::1' },
]
const kernel: Kernel = {
  carrier: async () => true,
  carrierBit: () => true,
  speed: async () => 1000,
  routes: async () => ({ routes: ROUTES.map(r => ({ ...r })), skipped: [] }),
  apply: async () => ({ failed: 0, errors: '' }),
  addresses: async () => [],
  neighbours: async () => [],
  watch: () => ({ close: () => {} }),
  run: async () => ({ failed: [] }),
  canAdminNetwork: async () => true,
  hasProgram: async name => name === 'perl',
}

/** erd as cli.ts runs it, with the fake kernel and a standing clock. */
async function serve(t: Test): Promise<{ sock: string; erd: () => Erd }> {
  const dir = mkdtempSync(join(tmpdir(), 'erd-doc-'))
  const sock = join(dir, 'erd.sock')
  const clock = new ManualClock(Date.parse('2025-06-01T12:00:00Z'))
  let erd: Erd | undefined
  const daemon = await runDaemon<ErdConfig>({
    name: 'erd',
    version: packageVersion(import.meta.url),
    logger: silentLogger(),
    load: async () => ({ ...DEFAULTS }),
    start: async config => (erd = await createErd({ config, kernel, clock })),
    controlAddress: sock,
    handleSignals: false,
  })
  t.teardown(async () => {
    await daemon.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  return { sock, erd: () => erd as Erd }
}

t.test('control socket: the session and the status answer', async t => {
  const { sock, erd } = await serve(t)
  const lines = block('erd-control').trimEnd().split('\n')
  t.ok(lines.length >= 2 && lines.length % 2 === 0, 'request/answer pairs')
  const anyVersion = (s: string): string =>
    s.replace(/"version":"[^"]*"/, '"version":"*"')
  for (let i = 0; i < lines.length; i += 2) {
    const req = /^> (.*)$/.exec(lines[i] ?? '')?.[1]
    const want = /^< (.*)$/.exec(lines[i + 1] ?? '')?.[1]
    if (req === undefined || want === undefined) {
      t.fail(`erd-control pair at line ${i + 1} is not "> ..." then "< ..."`)
      continue
    }
    const got = await ask(sock, req)
    await erd().idle() // the switch's route work, before the next request
    if (req === 'version') {
      t.equal(anyVersion(got), `${anyVersion(want)}\n`, req)
      t.match(JSON.parse(got.slice(3)), { version: String }, 'version string')
    } else t.equal(got, `${want}\n`, req)
  }

  const status = JSON.parse(block('erd-status')) as unknown
  t.equal(
    await ask(sock, 'status'),
    `OK ${JSON.stringify(status)}\n`,
    'status: the documented JSON on one line, in its key order',
  )
})

t.test('control socket: the line limit as stated', async t => {
  const prose = doc.replace(/\s+/g, ' ')
  t.match(
    prose,
    `at most ${CONTROL_MAX_LINE} characters, not counting its end`,
    "the doc states the kit's limit",
  )
  const tooLong = /a longer one gets `(ERR KIT_ERR_LINE_TOO_LONG [^`]*)`/.exec(
    prose,
  )?.[1]
  t.ok(tooLong, 'the doc gives the answer to a long line')
  const { sock } = await serve(t)
  const pad = (n: number): string =>
    `version${' '.repeat(n - 'version'.length)}`
  t.equal(
    await ask(sock, pad(CONTROL_MAX_LINE)),
    await ask(sock, 'version'),
    `${CONTROL_MAX_LINE} characters are a request`,
  )
  t.equal(
    await ask(sock, pad(CONTROL_MAX_LINE + 1)),
    `${tooLong}\n`,
    `${CONTROL_MAX_LINE + 1} are not`,
  )
})

t.test('peer notification: the frames on the wire', async t => {
  if (!needsRoot(t)) return
  if (spawnSync('tcpdump', ['--version'], { stdio: 'ignore' }).error) {
    t.skip('skipped: tcpdump not installed', () => {})
    return
  }
  const MAC = '02:00:00:00:00:01'
  const lab = new NetnsLab('pdoc')
  t.teardown(() => lab.cleanup())
  const node = await lab.add('node')
  const peer = await lab.add('peer')
  await lab.veth({ ns: node, ifname: 'eth0' }, { ns: peer, ifname: 'eth0' })
  await lab.exec(node, 'sysctl', [
    '-qw',
    'net.ipv6.auto_flowlabels=0',
    'net.ipv6.conf.eth0.forwarding=0',
  ])
  await lab.ip(node, ['link', 'set', 'eth0', 'address', MAC])
  await lab.ip(node, ['addr', 'add', '192.0.2.1/24', 'dev', 'eth0'])
  await lab.ip(node, [
    '-6',
    'addr',
    'add',
    '2001:db8::1/64',
    'dev',
    'eth0',
    'nodad',
  ])

  // pcap on stdout, a record per frame as it arrives.
  const cap = spawn(
    'ip',
    [
      'netns',
      'exec',
      peer,
      'tcpdump',
      '-i',
      'eth0',
      '-n',
      '-U',
      '-w',
      '-',
      `ether src ${MAC} and (arp or (icmp6 and ip6[40] == 136))`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.teardown(() => void cap.kill())
  const chunks: Buffer[] = []
  let stderr = ''
  cap.stdout.on('data', (c: Buffer) => chunks.push(c))
  cap.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  await waitFor(() => stderr.includes('listening on'), {
    what: `tcpdump listening (${stderr})`,
  })
  const frames = (): Buffer[] => {
    const b = Buffer.concat(chunks)
    const out: Buffer[] = []
    if (b.length < 24) return out
    const le = [0xa1b2c3d4, 0xa1b23c4d].includes(b.readUInt32LE(0))
    for (let at = 24; at + 16 <= b.length;) {
      const len = le ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8)
      if (at + 16 + len > b.length) break
      out.push(b.subarray(at + 16, at + 16 + len))
      at += 16 + len
    }
    return out
  }

  const announcer = new Announcer([
    'ip',
    'netns',
    'exec',
    node,
    'perl',
    ANNOUNCER,
  ])
  t.teardown(() => announcer.close())
  t.same(
    await announcer.announce('eth0', ['192.0.2.1', '2001:db8::1']),
    { sent: 2 },
    'erd-announce sent both',
  )
  const na = await run('ip', [
    'netns',
    'exec',
    node,
    'perl',
    NA_SENDER,
    'eth0',
    '2001:db8::1',
  ])
  t.equal(na.code, 0, `erd-na sent it ${na.stderr}`)
  const got = await waitFor(() => frames().length >= 3 && frames(), {
    what: 'three frames captured',
  })
  const hex = (b: Buffer | undefined): string => b?.toString('hex') ?? ''
  t.equal(got.length, 3, 'nothing else from the MAC')
  t.equal(hex(got[0]), hex(hexBlock('erd-arp')), 'erd-announce: ARP')
  t.equal(hex(got[1]), hex(hexBlock('erd-na')), 'erd-announce: NA')
  t.equal(hex(got[2]), hex(hexBlock('erd-na')), 'erd-na: NA')
  t.equal(hexBlock('erd-arp').length, 60, 'the ARP frame is padded to 60')
})
