// `--capture` records what a stall needs: port-80 packet headers per NIC and
// the kernel's route changes, in files named after the machine and device.
// Real tcpdump and `ip monitor` in namespaces this test makes.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NetnsLab, ROOT, needsRoot, waitFor } from '@has/test-support'

interface Capture {
  capturePlan: (
    nodes: string[],
    masters?: string[],
  ) => [string, string, string[]][]
  startCapture: (
    topo: { ns: (id: string) => string },
    nodes: string[],
    dir: string,
    masters?: string[],
  ) => () => void
}
const lib = (await import(join(ROOT, 'bench/lib/chaos/capture.js'))) as Capture

t.test(
  "the plan: both NICs of each node, the masters' LAN, the client, the switches",
  async t => {
    const plan = lib.capturePlan(['n1', 'n2'], ['m1'])
    t.same(
      plan.map(([file, id]) => [file, id]),
      [
        ['c-eth0.pcap', 'c'],
        ['n1-eth0.pcap', 'n1'],
        ['n1-eth1.pcap', 'n1'],
        ['n1-monitor.log', 'n1'],
        ['n2-eth0.pcap', 'n2'],
        ['n2-eth1.pcap', 'n2'],
        ['n2-monitor.log', 'n2'],
        ['m1-eth0.pcap', 'm1'],
        ['m1-conntrack-stats.log', 'm1'],
        ['sw1-fdb.log', 'sw1'],
        ['sw2-fdb.log', 'sw2'],
      ],
    )
    for (const [file, , argv] of plan)
      if (file.endsWith('.pcap'))
        t.match(
          argv.join(' '),
          /-s 96 .*'?tcp port 80'?$/,
          `${file}: headers of port 80 only`,
        )
  },
)

t.test('captures packets and route changes in the namespaces', async t => {
  if (!needsRoot(t)) return
  const lab = new NetnsLab('cap')
  const dir = mkdtempSync(join(tmpdir(), 'has-capture-'))
  let stop: (() => void) | undefined
  let server: ReturnType<typeof spawn> | undefined
  t.teardown(async () => {
    stop?.()
    server?.kill('SIGKILL')
    await lab.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })
  // One namespace plays the client, the node and both switches.
  const a = await lab.add('a')
  const b = await lab.add('b')
  await lab.veth(
    { ns: a, ifname: 'eth0', addr: '10.9.0.1/24' },
    { ns: b, ifname: 'eth0', addr: '10.9.0.2/24' },
  )
  await lab.veth({ ns: a, ifname: 'eth1' }, { ns: b, ifname: 'eth1' })
  server = spawn('ip', [
    'netns',
    'exec',
    b,
    process.execPath,
    '-e',
    "require('net').createServer(s => s.end('x')).listen(80, '10.9.0.2')",
  ])
  stop = lib.startCapture({ ns: () => a }, ['n1'], dir, ['m1'])
  const size = (f: string) => statSync(join(dir, f)).size
  // tcpdump attaches a moment after it starts: connect until a packet shows.
  await waitFor(
    async () => {
      await lab.exec(a, process.execPath, [
        '-e',
        "require('net').connect(80, '10.9.0.2').on('error', () => {}).on('data', () => {})",
      ])
      // 24 bytes of pcap header, then 16 per record plus the packet.
      return size('c-eth0.pcap') > 24 && size('n1-eth0.pcap') > 24
    },
    {
      what: 'port-80 packets in c-eth0.pcap and n1-eth0.pcap',
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  )
  t.equal(size('n1-eth1.pcap'), 24, 'nothing on the idle NIC but the header')
  await waitFor(
    async () => {
      await lab.ip(a, ['route', 'replace', '10.9.9.0/24', 'dev', 'eth0'])
      return readFileSync(join(dir, 'n1-monitor.log'), 'utf8').includes(
        '10.9.9.0/24',
      )
    },
    {
      what: 'the route change in n1-monitor.log',
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  )
  await waitFor(
    () =>
      /^\d+\.\d+\n.*\binvalid=\d+/m.test(
        readFileSync(join(dir, 'm1-conntrack-stats.log'), 'utf8'),
      ),
    {
      what: 'a timestamped conntrack -S in m1-conntrack-stats.log',
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  )
  // The switches' forwarding table: a bridge in the same namespace.
  await lab.ip(a, ['link', 'add', 'br0', 'type', 'bridge'])
  await lab.ip(a, ['link', 'set', 'eth1', 'master', 'br0'])
  await waitFor(
    async () => {
      await lab.exec(a, 'bridge', [
        'fdb',
        'replace',
        '02:00:00:00:00:99',
        'dev',
        'eth1',
        'master',
        'static',
      ])
      return readFileSync(join(dir, 'sw1-fdb.log'), 'utf8').includes(
        '02:00:00:00:00:99',
      )
    },
    {
      what: 'the FDB entry in sw1-fdb.log',
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  )
  t.match(
    readFileSync(join(dir, 'n1-monitor.log'), 'utf8'),
    /^\[\d{4}-\d\d-\d\dT[\d:.]+\] 10\.9\.9\.0\/24 dev eth0/m,
    'each change is timestamped',
  )
})
