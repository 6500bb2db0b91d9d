// A benchmark cluster on loopback: capacity-limited nodes on 127.0.1.N, one
// traffic-client per node (its --procfs tree gives the node's capacity),
// and a traffic-manager with one virtual service. Also the same nodes
// behind HAProxy for comparison.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { controlRequest } from '@has/daemon-kit'
import { writeProcfsFixture } from '@has/traffic-client'
import { start, stop, waitOutput, freePort, bin, ROOT } from './procs.js'

const KEY = 'has-bench-shared-report-key'

/** nodes: [{ concurrency, capacityFactor }] → running cluster. */
export async function startCluster({
  nodes,
  serviceMs = 10,
  scheduler = 'p2c',
  workers = 'auto',
  withClients = true,
}) {
  const dir = mkdtempSync(join(tmpdir(), 'has-bench-'))
  const nodePort = await freePort('tcp', '127.0.1.1')
  const vipPort = await freePort('tcp')
  const reportPort = await freePort('udp')
  const list = nodes.map((n, i) => ({ ...n, ip: `127.0.1.${i + 1}` }))
  const servers = start(process.execPath, [
    join(ROOT, 'bench', 'lib', 'capacity-server.js'),
    '--service-ms',
    String(serviceMs),
    ...list.map(n => `${n.ip}:${nodePort}:${n.concurrency}`),
  ])
  await waitOutput(servers, /ready/)
  const tmConf = join(dir, 'tmd.conf')
  writeFileSync(
    tmConf,
    [
      'master1 127.0.0.1',
      ...list.map((n, i) => `traffic${i + 1} ${n.ip}`),
      `port ${reportPort}`,
      'listen 127.0.0.1',
      'timeout 3000',
      `key ${KEY}`,
      `workers ${workers}`,
      `virtual 127.0.0.1:${vipPort}`,
      `    scheduler ${scheduler}`,
      '    connect-timeout 2s',
      ...list.map(n => `    node ${n.ip}:${nodePort}`),
      '',
    ].join('\n'),
  )
  const control = join(dir, 'tm.sock')
  const tm = start(process.execPath, [
    bin('traffic-manager'),
    '-c',
    tmConf,
    '--control',
    control,
    '--log-level',
    'warn',
  ])
  const clients = []
  if (withClients) {
    for (const [i, n] of list.entries()) {
      const procfs = join(dir, `proc${i}`)
      // Capacity as the node would see it: CPUs scale with its concurrency.
      writeProcfsFixture(procfs, {
        bogomips: 4000,
        cpus: n.capacityFactor ?? 1,
        memTotalMB: 4096,
        memFreeMB: 3000,
        idleShare: 0.95,
      })
      const conf = join(dir, `tcd${i}.conf`)
      writeFileSync(
        conf,
        [
          'master1 127.0.0.1',
          `port ${reportPort}`,
          'updates 500',
          `key ${KEY}`,
          `node ${n.ip}`,
          `procfs ${procfs}`,
          '',
        ].join('\n'),
      )
      clients.push(
        start(process.execPath, [
          bin('traffic-client'),
          '-c',
          conf,
          '--control',
          join(dir, `tc${i}.sock`),
          '--log-level',
          'warn',
        ]),
      )
    }
  }
  // Ready when every node is up in the manager's table.
  const t0 = Date.now()
  for (;;) {
    const st = await controlRequest(control, 'status').catch(() => null)
    const up = st?.services?.[0]?.nodes?.filter(n => n.eligible).length ?? 0
    if (up === list.length || (!withClients && st)) break
    if (Date.now() - t0 > 30_000)
      throw new Error(`only ${up}/${list.length} nodes up after 30 s`)
    await new Promise(r => setTimeout(r, 100))
  }
  return {
    dir,
    list,
    nodePort,
    vipPort,
    tm,
    control,
    tmConf,
    url: `http://127.0.0.1:${vipPort}/`,
    directUrl: `http://${list[0].ip}:${nodePort}/`,
    async close() {
      await Promise.all([stop(tm), ...clients.map(c => stop(c)), stop(servers)])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * HAProxy's maxconn for this shell: it needs about two descriptors per
 * connection and refuses to start when `ulimit -n` cannot hold them (20000
 * did not fit a 20000 limit). At most 8000: far above any load here.
 */
export function haproxyMaxconn() {
  let limit = 1024
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -Hn'], {
      encoding: 'utf8',
    }).trim()
    limit = out === 'unlimited' ? 1 << 20 : Number(out) || 1024
  } catch {
    /* keep the POSIX minimum */
  }
  return Math.max(256, Math.min(8000, Math.floor((limit - 100) / 2)))
}

/** HAProxy (mode tcp) in front of the cluster's nodes. */
export function startHaproxy(
  cluster,
  { balance = 'leastconn', threads = 2 } = {},
) {
  return startHaproxyFor({
    dir: cluster.dir,
    servers: cluster.list.map(n => `${n.ip}:${cluster.nodePort}`),
    balance,
    threads,
  })
}

/**
 * HAProxy (mode tcp) on a free loopback port in front of `servers`
 * (`host:port`), its config written under `dir`; resolves once it accepts.
 */
export async function startHaproxyFor({
  dir,
  servers,
  balance = 'leastconn',
  threads = 2,
  path = '/',
}) {
  const port = await freePort('tcp')
  const conf = join(dir, `haproxy-${balance.replace(/\W/g, '')}-${threads}.cfg`)
  writeFileSync(
    conf,
    [
      'global',
      `    nbthread ${threads}`,
      `    maxconn ${haproxyMaxconn()}`,
      'defaults',
      '    mode tcp',
      '    timeout connect 2s',
      '    timeout client 30s',
      '    timeout server 30s',
      `listen bench`,
      `    bind 127.0.0.1:${port}`,
      `    balance ${balance}`,
      ...servers.map((s, i) => `    server n${i} ${s}`),
      '',
    ].join('\n'),
  )
  const child = start('haproxy', ['-db', '-f', conf])
  // Ready when it accepts: poll the port briefly.
  const { connect } = await import('node:net')
  for (let i = 0; ; i++) {
    const ok = await new Promise(r => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy()
        r(true)
      })
      s.once('error', () => r(false))
    })
    if (ok) break
    if (i >= 200 || child.exitCode !== null) {
      await stop(child)
      throw new Error(
        `haproxy did not listen on 127.0.0.1:${port}: ${child.output.slice(-500)}`,
      )
    }
    await new Promise(r => setTimeout(r, 50))
  }
  return {
    child,
    url: `http://127.0.0.1:${port}${path}`,
    close: () => stop(child),
    command: `haproxy -db -f (mode tcp, balance ${balance}, nbthread ${threads})`,
    pid: child.pid,
  }
}
