// The machines: one network namespace per host, made and deleted here.
//
//   sw1 ==trunk== sw2          two switches (bridges, each in its namespace)
//    |  \  \        |          c (clients and the upstream router 10.0.0.254,
//    c  m1  m2      |            IPv6 by SLAAC from the masters' radvd-lite)
//   m1 -- m2 (eth1: crossover, 192.168.255.0/24, heartbeat's second path)
//   n1..n4: eth0 on sw1, eth1 on sw2, one IP and MAC on both (thesis setup)
//
// Each host also gets a "machine" process: a mount + UTS namespace (its
// own /etc overlay, /run, /var/log, /srv, /mnt, hostname) that every
// process of the host enters with nsenter. Power-off kills the processes,
// not the machine; traffic only ever goes to addresses in these namespaces.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CLIENT4, MASTERS, NODES } from './deploy.js'

export const sh = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
  })
const tryRun = (cmd, args) => {
  try {
    return sh(cmd, args)
  } catch {
    return undefined
  }
}

export class Topology {
  constructor(prefix) {
    this.prefix = prefix
    this.made = []
    this.machines = {}
  }

  ns(id) {
    return `${this.prefix}-${id}`
  }
  ip(id, ...a) {
    return sh('ip', ['-n', this.ns(id), ...a])
  }
  exec(id, cmd, ...a) {
    return sh('ip', ['netns', 'exec', this.ns(id), cmd, ...a])
  }
  nft(id, script) {
    return sh('ip', ['netns', 'exec', this.ns(id), 'nft', '-f', '-'], {
      input: script,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
  }
  sysctl(id, ...kv) {
    this.exec(id, 'sysctl', '-qw', ...kv)
  }

  add(id) {
    const n = this.ns(id)
    sh('ip', ['netns', 'add', n])
    this.made.push(n)
    this.ip(id, 'link', 'set', 'lo', 'up')
  }

  /** veth a:ifa <-> b:ifb; b is a switch when bridged. */
  veth(a, ifa, b, ifb) {
    sh('ip', [
      'link',
      'add',
      ifa,
      'netns',
      this.ns(a),
      'type',
      'veth',
      'peer',
      'name',
      ifb,
      'netns',
      this.ns(b),
    ])
  }

  build() {
    for (const id of [
      'sw1',
      'sw2',
      'c',
      ...MASTERS.map(m => m.id),
      ...NODES.map(n => n.id),
    ])
      this.add(id)
    for (const sw of ['sw1', 'sw2']) {
      this.ip(sw, 'link', 'add', 'br0', 'type', 'bridge')
      this.ip(sw, 'link', 'set', 'br0', 'up')
    }
    const plug = (sw, port) => {
      this.ip(sw, 'link', 'set', port, 'master', 'br0')
      this.ip(sw, 'link', 'set', port, 'up')
    }
    this.veth('sw1', 'trunk', 'sw2', 'trunk')
    plug('sw1', 'trunk')
    plug('sw2', 'trunk')

    // Client / upstream router.
    this.veth('c', 'eth0', 'sw1', 'pc')
    plug('sw1', 'pc')
    this.sysctl(
      'c',
      'net.ipv4.conf.all.arp_accept=1',
      'net.ipv6.conf.all.accept_ra=1',
      'net.ipv6.conf.default.accept_ra=1',
    )
    this.ip('c', 'addr', 'add', `${CLIENT4}/24`, 'dev', 'eth0')

    for (const m of MASTERS) {
      this.veth(m.id, 'eth0', 'sw1', `p${m.id}`)
      plug('sw1', `p${m.id}`)
      this.ip(m.id, 'addr', 'add', `${m.addr}/24`, 'dev', 'eth0')
      this.ip(
        m.id,
        '-6',
        'addr',
        'add',
        `2001:db8:1::${m.addr.split('.')[3]}/64`,
        'dev',
        'eth0',
        'nodad',
      )
    }
    this.veth('m1', 'eth1', 'm2', 'eth1')
    for (const m of MASTERS) {
      this.ip(m.id, 'addr', 'add', `${m.xover}/24`, 'dev', 'eth1')
      // docs/deployment.md, master sysctls.
      this.sysctl(
        m.id,
        'net.ipv4.ip_forward=1',
        'net.ipv4.ip_nonlocal_bind=1',
        'net.ipv6.ip_nonlocal_bind=1',
        'net.ipv6.conf.all.forwarding=1',
        'net.ipv6.conf.all.keep_addr_on_down=1',
        'net.netfilter.nf_conntrack_tcp_be_liberal=1',
      )
      this.ip(m.id, 'link', 'set', 'eth0', 'up')
      this.ip(m.id, 'link', 'set', 'eth1', 'up')
    }

    for (const n of NODES) {
      this.veth(n.id, 'eth0', 'sw1', `p${n.id}`)
      this.veth(n.id, 'eth1', 'sw2', `p${n.id}`)
      plug('sw1', `p${n.id}`)
      plug('sw2', `p${n.id}`)
      // SLAAC on the primary; the secondary carries copies (erd), no DAD for
      // the duplicate address, as erd's README says.
      this.sysctl(
        n.id,
        'net.ipv6.conf.eth0.accept_ra=1',
        'net.ipv6.conf.eth1.accept_ra=0',
        'net.ipv6.conf.eth1.accept_dad=0',
        'net.ipv6.conf.eth1.dad_transmits=0',
        // docs/deployment.md: a port that loses carrier keeps its IPv6
        // addresses, or erd fails back to a port without them.
        'net.ipv6.conf.all.keep_addr_on_down=1',
      )
      for (const dev of ['eth0', 'eth1']) {
        this.ip(n.id, 'link', 'set', dev, 'address', n.mac)
        this.ip(n.id, 'addr', 'add', `${n.addr}/24`, 'dev', dev)
        // The IPv6 VIP's nodes are these (tmd.conf traffic5-8); one copy per
        // port as for IPv4, without DAD (erd's README).
        this.ip(n.id, '-6', 'addr', 'add', `${n.addr6}/64`, 'dev', dev, 'nodad')
        this.ip(n.id, 'link', 'set', dev, 'up')
      }
    }
    this.ip('c', 'link', 'set', 'eth0', 'up')
  }

  /** The host's machine process (mount + UTS namespace); returns its PID. */
  async machine(host) {
    const d = host.dirs
    const script = [
      'set -e',
      `mount -t overlay overlay -o lowerdir=/etc,upperdir=${d.etc},workdir=${d.etcWork} /etc`,
      `mount --bind ${d.run} /run`,
      `mount --bind ${d.log} /var/log`,
      `mount --bind ${d.srv} /srv`,
      `mount --bind ${d.mnt} /mnt`,
      existsSync(join(d.root, 'systemctl')) && existsSync('/usr/bin/systemctl')
        ? `mount --bind ${join(d.root, 'systemctl')} /usr/bin/systemctl`
        : 'true',
      `hostname ${host.name}`,
      'echo ready',
      'exec sleep infinity',
    ].join('\n')
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns(host.id),
        'unshare',
        '-m',
        '-u',
        '--propagation',
        'private',
        'sh',
        '-c',
        script,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    )
    let out = ''
    child.stderr.on('data', c => (out += c))
    await new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`machine ${host.id} not ready: ${out}`)),
        10_000,
      )
      child.stdout.once('data', () => {
        clearTimeout(t)
        resolve()
      })
      child.once('exit', c => {
        clearTimeout(t)
        reject(new Error(`machine ${host.id} exited ${c}: ${out}`))
      })
    })
    this.machines[host.id] = child
    return child.pid
  }

  /** argv prefix that runs a command on host `id` (net + mount + UTS). */
  enter(id) {
    const pid = this.machines[id]?.pid
    if (!pid) return ['ip', 'netns', 'exec', this.ns(id)]
    return ['nsenter', '-t', String(pid), '-m', '-u', '-n', '--']
  }

  cleanup() {
    for (const m of Object.values(this.machines))
      try {
        m.kill('SIGKILL')
      } catch {}
    for (const ns of this.made.splice(0).reverse()) {
      const pids = tryRun('ip', ['netns', 'pids', ns]) ?? ''
      // Processes in our namespaces were all started by this run.
      for (const pid of pids.split(/\s+/).filter(Boolean))
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {}
      tryRun('ip', ['netns', 'del', ns])
    }
  }
}
