// The fault catalogue and its seeded schedule: one fault at a time, each
// undone after its hold, then a recovery gap. Every fault is what happens to
// real machines: a process killed (its unit restarts it as Restart= says),
// frozen, a machine or a NIC losing power, packets dropped, CPUs saturated.
import { spawn } from 'node:child_process'
import { MASTERS, NODES } from './deploy.js'
import { prng } from './prng.js'

const MASTER_UNITS = [
  'heartbeatd',
  'traffic-manager',
  'conn-syncd',
  'ldirectord',
  'radvd-lite',
]
const NODE_UNITS = ['erd', 'ha-nfs-mount', 'traffic-client', 'ldirectord']

/** [type, hold seconds (full length), target] */
export function catalogue() {
  const list = []
  for (const u of MASTER_UNITS)
    for (const role of ['active', 'standby'])
      list.push({
        type: `kill9 ${u}@${role}-master`,
        hold: 8,
        kind: 'kill9',
        unit: u,
        role,
      })
  for (const u of NODE_UNITS)
    list.push({
      type: `kill9 ${u}@node`,
      hold: 8,
      kind: 'kill9',
      unit: u,
      role: 'node',
    })
  list.push(
    { type: 'sigstop active-master 2s', hold: 2, kind: 'sigstop' },
    { type: 'power-off active-master', hold: 15, kind: 'master-off' },
    { type: 'power-off node', hold: 15, kind: 'node-off' },
    { type: 'nginx crash', hold: 8, kind: 'nginx' },
    { type: 'node primary NIC down', hold: 10, kind: 'nic' },
    { type: 'active NFS server killed', hold: 10, kind: 'nfs' },
    { type: 'heartbeat partition (LAN up)', hold: 10, kind: 'partition' },
    {
      type: '1% packet loss on the active master link',
      hold: 30,
      kind: 'loss',
    },
    { type: 'both CPUs saturated', hold: 60, kind: 'cpu' },
  )
  return list
}

/**
 * The schedule: the catalogue shuffled by the seed, repeated until the
 * budget (seconds) is used; holds scaled by `scale` (short runs).
 */
export function schedule(seed, budgetS, { scale = 1, gapS = 12, only } = {}) {
  const r = prng(seed)
  const out = []
  let t = 0
  let pool = []
  const cat = catalogue().filter(
    f => !only || only.some(o => f.type.includes(o)),
  )
  for (let guard = 0; guard < 1000; guard++) {
    if (!pool.length) pool = r.shuffle(cat)
    const f = pool.shift()
    const hold = Math.max(
      2,
      Math.round(f.hold * (f.kind === 'sigstop' ? 1 : scale)),
    )
    if (t + hold + gapS > budgetS) break
    out.push({ ...f, hold, node: r.pick(NODES).id, at: t })
    t += hold + gapS
  }
  return out
}

/** Applies fault f; returns its undo. ctx: see bench/chaos.js. */
export async function inject(f, ctx) {
  const { topo, sup, hosts } = ctx
  const active = hosts[ctx.activeMaster() ?? 'm1']
  const standby = hosts[active.id === 'm1' ? 'm2' : 'm1']
  const node = hosts[f.node]
  f.target = undefined
  switch (f.kind) {
    case 'kill9': {
      const host =
        f.role === 'node' ? node : f.role === 'active' ? active : standby
      f.target = host.id
      sup.signal(host, f.unit, 'SIGKILL', f.type)
      return async () => {}
    }
    case 'sigstop': {
      f.target = active.id
      for (const u of MASTER_UNITS) sup.signal(active, u, 'SIGSTOP', f.type)
      return async () => {
        for (const u of MASTER_UNITS) sup.signal(active, u, 'SIGCONT', f.type)
      }
    }
    case 'master-off': {
      f.target = active.id
      // Links first: a machine that loses power sends nothing more, while
      // processes killed with their links up would have their kernel
      // reset every connection and refuse every SYN (not a power-off).
      for (const dev of ['eth0', 'eth1'])
        topo.ip(active.id, 'link', 'set', dev, 'down')
      sup.powerOff(active)
      return () => ctx.powerOn(active)
    }
    case 'node-off': {
      f.target = node.id
      // Links first: a machine that loses power sends nothing more, while
      // processes killed with their links up would have their kernel
      // reset every connection and refuse every SYN (not a power-off).
      for (const dev of ['eth0', 'eth1'])
        topo.ip(node.id, 'link', 'set', dev, 'down')
      sup.powerOff(node)
      return () => ctx.powerOn(node)
    }
    case 'nginx': {
      f.target = node.id
      sup.signal(node, 'nginx', 'SIGKILL', f.type)
      return async () => {}
    }
    case 'nic': {
      // The cable of the primary NIC pulled: carrier lost at the switch port.
      f.target = node.id
      topo.ip('sw1', 'link', 'set', `p${node.id}`, 'down')
      return async () => topo.ip('sw1', 'link', 'set', `p${node.id}`, 'up')
    }
    case 'nfs': {
      // master-a is every node's first server: the active NFS server.
      const m = hosts[MASTERS[0].id]
      f.target = m.id
      sup.signal(m, 'nfs-ganesha', 'SIGKILL', f.type)
      return async () => {
        if (!sup.down.has(m.id)) ctx.startUnit(m, 'nfs-ganesha')
      }
    }
    case 'partition': {
      // Every heartbeat path between the masters cut on one of them (UDP 694,
      // both interfaces); the LAN keeps carrying client traffic.
      f.target = standby.id
      topo.nft(
        standby.id,
        'table inet has_chaos_part {\n chain in { type filter hook input priority -10; udp dport 694 drop; udp sport 694 drop; }\n chain out { type filter hook output priority -10; udp dport 694 drop; }\n}\n',
      )
      return async () =>
        topo.exec(
          standby.id,
          'nft',
          'delete',
          'table',
          'inet',
          'has_chaos_part',
        )
    }
    case 'loss': {
      f.target = active.id
      topo.nft(
        active.id,
        'table inet has_chaos_loss {\n chain in { type filter hook prerouting priority -400; iifname "eth0" numgen random mod 100 < 1 drop; }\n chain out { type filter hook postrouting priority 400; oifname "eth0" numgen random mod 100 < 1 drop; }\n}\n',
      )
      return async () => {
        try {
          topo.exec(
            active.id,
            'nft',
            'delete',
            'table',
            'inet',
            'has_chaos_loss',
          )
        } catch {}
      }
    }
    case 'cpu': {
      // Two bounded busy loops (they exit by themselves after the hold).
      const loops = [0, 1].map(() =>
        spawn(
          process.execPath,
          ['-e', `const e=Date.now()+${f.hold * 1000};while(Date.now()<e){}`],
          { stdio: 'ignore' },
        ),
      )
      return async () => {
        for (const l of loops)
          try {
            l.kill('SIGKILL')
          } catch {}
      }
    }
  }
  throw new Error(`unknown fault ${f.kind}`)
}
