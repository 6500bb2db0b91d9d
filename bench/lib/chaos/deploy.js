// The deployment: the role examples (examples/master-node, traffic-node)
// copied into each host's /etc as an operator would, with this documented,
// minimal rewrite and nothing else (docs/availability.md lists it too):
//
//  1. Secrets: authkeys' placeholder replaced by a random secret; the key
//     files the configs name (report.key, conn-syncd.key) created, mode 0600.
//  2. Per-host values the examples mark as such: conn-syncd.conf on
//     master2 mirrored (node, listen, peer); a traffic node's own addresses
//     (IPv4 and IPv6) in tcd.conf (node, agent_addr) and ldirectord.cf
//     (nodeaddress).
//  3. The seam for the kernel's missing NFS client: ha-nfs-mount.conf gets
//     `mounter bind`, `bind-map` (each master's export directory) and a
//     staging dir; the NFS servers (nfs-ganesha) and the probes are real.
//  4. /etc/hosts gains master-a/master-b (the NFS servers' names).
//
// Addresses and paths need no rewrite: every host has its own network
// namespace (the examples' 10.0.0.0/24 exists only there) and its own mount
// namespace in which /etc (an overlay), /run, /var/log, /srv and /mnt are
// that host's directories; heartbeatd finds its node name in the host's
// own UTS namespace (hostname master1), as with `uname -n` on a machine.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { parseDropIn, parseSocketUnit, readUnit } from './unit-file.js'

export const LAN4 = '10.0.0.0/24'
export const VIP4 = '10.0.0.100'
export const VIP6 = '2001:db8:1::100'
export const CLIENT4 = '10.0.0.254'
export const MASTERS = [
  {
    id: 'm1',
    name: 'master1',
    addr: '10.0.0.11',
    xover: '192.168.255.1',
    nfsName: 'master-a',
  },
  {
    id: 'm2',
    name: 'master2',
    addr: '10.0.0.12',
    xover: '192.168.255.2',
    nfsName: 'master-b',
  },
]
export const NODES = [1, 2, 3, 4].map(i => ({
  id: `n${i}`,
  name: `traffic${i}`,
  addr: `10.0.0.${20 + i}`,
  addr6: `2001:db8:1::${20 + i}`,
  mac: `02:00:00:00:00:${(0x20 + i).toString(16)}`,
}))
/** The page every web server returns (from the NFS export): clients check it. */
export const PAGE =
  '<html><body><h1>Home Page</h1><p>has chaos content 0123456789</p></body></html>\n'

const EXAMPLE_NODE_ADDR = '10.0.0.21'
const EXAMPLE_NODE_ADDR6 = '2001:db8:1::21'

function write(file, text, mode) {
  mkdirSync(join(file, '..'), { recursive: true })
  writeFileSync(file, text)
  if (mode !== undefined) chmodSync(file, mode)
}

/** The host's directories: overlay upper for /etc, and /run, /var/log, /srv, /mnt. */
export function hostDirs(D, id) {
  const h = join(D, id)
  const dirs = {
    root: h,
    etc: join(h, 'etc'),
    etcWork: join(h, 'etc.work'),
    run: join(h, 'run'),
    log: join(h, 'log'),
    srv: join(h, 'srv'),
    mnt: join(h, 'mnt'),
  }
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true })
  mkdirSync(join(dirs.run, 'has'), { recursive: true })
  mkdirSync(join(dirs.log, 'has'), { recursive: true })
  return dirs
}

/**
 * Writes every host's files; returns, per host, its units in start order
 * (systemd's After=/Before= order of the examples' units).
 */
export function deploy(ROOT, D) {
  const ex = (...p) => join(ROOT, 'examples', ...p)
  const read = (...p) => readFileSync(ex(...p), 'utf8')
  const reportKey = randomBytes(32).toString('base64') + '\n'
  const syncKey = randomBytes(32).toString('hex') + '\n'
  const hbSecret = randomBytes(32).toString('hex')
  const hosts = {}
  const unit = (role, pkg, file) => ({
    name: file.replace(/\.service$/, ''),
    ...readUnit(ex(role, pkg, file)),
  })

  const nginxDropIn = parseDropIn(
    read('traffic-node', 'nginx', join('nginx.service.d', 'has.conf')),
  )

  for (const m of MASTERS) {
    const d = hostDirs(D, m.id)
    const etc = (...p) => join(d.etc, ...p)
    write(etc('ha.d', 'ha.cf'), read('master-node', 'heartbeatd', 'ha.cf'))
    write(
      etc('ha.d', 'haresources'),
      read('master-node', 'heartbeatd', 'haresources'),
    )
    // The haresources comment's install step: conn-syncd's agent in resource.d.
    mkdirSync(etc('ha.d', 'resource.d'), { recursive: true })
    symlinkSync(
      join(ROOT, 'packages', 'conn-syncd', 'resource.d', 'conn-syncd-ready'),
      etc('ha.d', 'resource.d', 'conn-syncd-ready'),
    )
    write(
      etc('ha.d', 'authkeys'),
      read('master-node', 'heartbeatd', 'authkeys').replace(
        'replace-with-the-output-of-openssl-rand-hex-32',
        hbSecret,
      ),
      0o600,
    )
    write(
      etc('ha.d', 'ldirectord.cf'),
      read('master-node', 'ldirectord', 'ldirectord.cf'),
    )
    mkdirSync(etc('ha.d', 'maintenance'), { recursive: true })
    write(
      etc('has', 'tmd.conf'),
      read('master-node', 'traffic-manager', 'tmd.conf'),
    )
    write(etc('has', 'report.key'), reportKey, 0o600)
    let cs = read('master-node', 'conn-syncd', 'conn-syncd.conf')
    if (m.id === 'm2') {
      // The example's own instruction: master2 mirrors it.
      cs = cs
        .replace(/^node master1$/m, 'node master2')
        .replace(/^listen 10\.0\.0\.11:/m, 'listen 10.0.0.12:')
        .replace(/^peer 10\.0\.0\.12:/m, 'peer 10.0.0.11:')
    }
    write(etc('has', 'conn-syncd.conf'), cs)
    write(etc('has', 'conn-syncd.key'), syncKey, 0o600)
    write(
      etc('radvd-lite.conf'),
      read('master-node', 'radvd-lite', 'radvd.conf'),
    )
    mkdirSync(join(d.srv, 'export'), { recursive: true })
    writeFileSync(join(d.srv, 'export', 'index.html'), PAGE)
    hosts[m.id] = {
      ...m,
      role: 'master',
      dirs: d,
      units: [
        unit('master-node', 'traffic-manager', 'traffic-manager.service'),
        unit('master-node', 'conn-syncd', 'conn-syncd.service'),
        unit('master-node', 'heartbeatd', 'heartbeatd.service'),
        unit('master-node', 'ldirectord', 'ldirectord.service'),
        unit('master-node', 'radvd-lite', 'radvd-lite.service'),
      ],
    }
  }

  for (const n of NODES) {
    const d = hostDirs(D, n.id)
    const etc = (...p) => join(d.etc, ...p)
    const own = text =>
      text
        .replaceAll(EXAMPLE_NODE_ADDR, n.addr)
        .replaceAll(EXAMPLE_NODE_ADDR6, n.addr6)
    write(
      etc('has', 'tcd.conf'),
      own(read('traffic-node', 'traffic-client', 'tcd.conf')),
    )
    write(etc('has', 'report.key'), reportKey, 0o600)
    write(etc('has', 'erd.conf'), read('traffic-node', 'erd', 'erd.conf'))
    const seam = [
      '',
      '# chaos harness seam: this kernel has no NFS client; the servers are real.',
      'mounter bind',
      'staging-dir /run/has/hnm-staging',
      ...MASTERS.map(
        m => `bind-map ${m.nfsName}:/export ${join(D, m.id, 'srv', 'export')}`,
      ),
      '',
    ].join('\n')
    write(
      etc('has', 'ha-nfs-mount.conf'),
      read('traffic-node', 'ha-nfs-mount', 'ha-nfs-mount.conf') + seam,
    )
    write(
      etc('ha.d', 'ldirectord.cf'),
      own(read('traffic-node', 'ldirectord', 'ldirectord.cf')),
    )
    mkdirSync(etc('ha.d', 'maintenance'), { recursive: true })
    write(
      etc('hosts'),
      readFileSync('/etc/hosts', 'utf8') +
        MASTERS.map(m => `${m.addr}\t${m.nfsName}\n`).join(''),
    )
    mkdirSync(join(d.mnt, 'CommonNFS'), { recursive: true })
    // ldirectord's restartcommand (`systemctl restart nginx`): no systemd in
    // a namespace; the harness restarts nginx itself (Restart=on-failure).
    write(
      join(d.root, 'systemctl'),
      '#!/bin/sh\necho "systemctl $*" >> /var/log/has/systemctl.log\n',
      0o755,
    )
    write(join(d.root, 'nginx.conf'), nginxConf(d))
    mkdirSync(join(d.root, 'nginx-tmp'), { recursive: true })
    hosts[n.id] = {
      ...n,
      role: 'node',
      dirs: d,
      units: [
        unit('traffic-node', 'erd', 'erd.service'),
        unit('traffic-node', 'ha-nfs-mount', 'ha-nfs-mount.service'),
        {
          // Debian's nginx.service with the example's drop-in
          // (examples/traffic-node/nginx/nginx.service.d/has.conf: its
          // Restart=, RestartSec= and Environment=, read from it) and its
          // nginx.socket, whose sockets the supervisor holds across
          // restarts as systemd would; in the foreground so it can be
          // supervised.
          name: 'nginx',
          file: '(harness) nginx.service + examples/traffic-node/nginx/',
          execStart: [
            '/usr/bin/env',
            ...nginxDropIn.environment,
            '/usr/sbin/nginx',
            '-c',
            join(d.root, 'nginx.conf'),
          ],
          sockets: parseSocketUnit(
            read('traffic-node', 'nginx', 'nginx.socket'),
          ),
          restart: nginxDropIn.restart ?? 'no',
          restartMs: nginxDropIn.restartMs ?? 100,
          preventExit: [],
        },
        unit('traffic-node', 'traffic-client', 'traffic-client.service'),
        unit('traffic-node', 'ldirectord', 'ldirectord.service'),
      ],
    }
  }
  return hosts
}

function nginxConf(d) {
  return `# nginx on a traffic node: serves the shared content (ha-nfs-mount's
# /mnt/CommonNFS). Foreground, supervised by the harness.
daemon off;
master_process on;
user root;
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path ${d.root}/nginx-tmp;
  proxy_temp_path ${d.root}/nginx-tmp;
  fastcgi_temp_path ${d.root}/nginx-tmp;
  uwsgi_temp_path ${d.root}/nginx-tmp;
  scgi_temp_path ${d.root}/nginx-tmp;
  open_file_cache off;
  server {
    listen 80;
    listen [::]:80;
    root /mnt/CommonNFS;
    index index.html;
  }
}
`
}

/** Maps a unit's ExecStart binary to what runs here. */
export function argvOf(ROOT, unit) {
  const [exe, ...rest] = unit.execStart
  const m = /^\/usr\/bin\/([\w-]+)$/.exec(exe)
  if (m && m[1] !== 'env')
    return [
      process.execPath,
      join(ROOT, 'packages', m[1], 'dist', 'bin.js'),
      ...rest,
    ]
  return [exe, ...rest]
}

export { copyFileSync }
