// `--capture`: the evidence a stall needs, kept in the run's directory.
// Packet headers of port 80 on both NICs of every node, on each master's
// LAN NIC and on the client; the switches' forwarding-table changes; each
// node's link, route and neighbour changes; each master's conntrack
// statistics once a second (its invalid and drop counters say when the
// kernel stopped tracking a flow); all with timestamps. A request that
// fails at a fault can then be followed by its client port (summary.json
// lists it) through the client, the masters, the switches and the node.
// Headers only (-s 96): the capture costs little CPU next to the cluster
// it watches.
import { spawn } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { join } from 'node:path'

/**
 * What to start: [name, namespace id, argv]. Pure, so a test can read the
 * plan without namespaces.
 */
export function capturePlan(nodes, masters = []) {
  const tcpdump = dev => [
    'tcpdump',
    '-n',
    '-U',
    '-s',
    '96',
    '-i',
    dev,
    '-w',
    '-',
    'tcp port 80',
  ]
  const plan = [['c-eth0.pcap', 'c', tcpdump('eth0')]]
  for (const id of nodes) {
    for (const dev of ['eth0', 'eth1'])
      plan.push([`${id}-${dev}.pcap`, id, tcpdump(dev)])
    plan.push([
      `${id}-monitor.log`,
      id,
      ['ip', '-ts', 'monitor', 'link', 'route', 'neigh'],
    ])
  }
  for (const id of masters) {
    plan.push([`${id}-eth0.pcap`, id, tcpdump('eth0')])
    plan.push([
      `${id}-conntrack-stats.log`,
      id,
      ['sh', '-c', 'while :; do date +%s.%N; conntrack -S; sleep 1; done'],
    ])
  }
  // bridge(8) buffers its output when it is not a terminal: line by line.
  for (const sw of ['sw1', 'sw2'])
    plan.push([
      `${sw}-fdb.log`,
      sw,
      ['stdbuf', '-oL', 'bridge', '-timestamp', 'monitor', 'fdb'],
    ])
  return plan
}

/**
 * Starts the plan in topo's namespaces; returns stop(), which kills them.
 * A capture that ends while the run goes on (tcpdump exits when a
 * powered-off machine's NIC goes down) starts again a second later into
 * `<file>.1`, `.2`, ... (at most 50 times), so the machine's return is
 * captured too.
 */
export function startCapture(topo, nodes, dir, masters = []) {
  const live = new Set()
  let stopped = false
  const start = (file, id, argv, n) => {
    const fd = openSync(join(dir, n ? `${file}.${n}` : file), 'w')
    const c = spawn('ip', ['netns', 'exec', topo.ns(id), ...argv], {
      stdio: ['ignore', fd, 'ignore'],
    })
    closeSync(fd)
    live.add(c)
    c.on('error', () => {})
    c.on('exit', () => {
      live.delete(c)
      // Bounded: a command that cannot run at all stops trying.
      if (!stopped && n < 50)
        setTimeout(() => {
          if (!stopped) start(file, id, argv, n + 1)
        }, 1000).unref()
    })
  }
  for (const [file, id, argv] of capturePlan(nodes, masters))
    start(file, id, argv, 0)
  return () => {
    stopped = true
    for (const c of live)
      try {
        c.kill('SIGTERM')
      } catch {}
  }
}
