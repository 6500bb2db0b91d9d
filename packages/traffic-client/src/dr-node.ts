// The traffic node's side of direct routing (traffic-manager's `dataplane
// nftables-dr`): the node must accept packets for the VIP, so it holds the
// VIP on lo, and must never answer ARP/ND for it, or clients would bypass
// the director. IPv4 needs arp_ignore >= 1 (answer only for addresses of
// the asking interface) and arp_announce = 2 (never use the VIP as the ARP
// source); IPv6 needs the VIP on lo only (Linux answers neighbour
// solicitations only for addresses of the receiving interface) with nodad.
// checkDrNode reports what is wrong, naming each sysctl; setupDrNode fixes
// it. Both read /proc/sys and `ip -j addr` of the calling namespace.

import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isIP } from 'node:net'
import { spawn } from 'node:child_process'

export interface DrNodeIo {
  /** Root of the sysctl tree (default /proc/sys). */
  readonly sysctlRoot?: string
  /** Runs `ip` (default: the real one). */
  readonly ip?: (
    args: readonly string[],
  ) => Promise<{ code: number; stdout: string; stderr: string }>
}

export interface DrNodeProblem {
  /** The sysctl (dotted) or `address`. */
  readonly what: string
  readonly message: string
}

const runIp = (
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const c = spawn('ip', [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    c.once('error', reject)
    c.once('close', code => resolve({ code: code ?? -1, stdout, stderr }))
  })

const sysPath = (root: string, dotted: string): string =>
  join(root, ...dotted.split('.'))

async function readNum(
  root: string,
  dotted: string,
): Promise<number | undefined> {
  try {
    const n = Number((await readFile(sysPath(root, dotted), 'utf8')).trim())
    return Number.isFinite(n) ? n : undefined
  } catch {
    return undefined
  }
}

interface AddrInfo {
  readonly ifname: string
  readonly local: string
}

async function addresses(io: DrNodeIo): Promise<AddrInfo[]> {
  const r = await (io.ip ?? runIp)(['-j', 'addr', 'show'])
  if (r.code !== 0)
    throw new Error(`ip -j addr show failed: ${r.stderr.trim()}`)
  const out: AddrInfo[] = []
  for (const l of JSON.parse(r.stdout) as {
    ifname?: string
    addr_info?: { local?: string }[]
  }[]) {
    for (const a of l.addr_info ?? [])
      if (l.ifname && a.local) out.push({ ifname: l.ifname, local: a.local })
  }
  return out
}

/** Interfaces ARP requests can arrive on (everything but lo). */
async function arpInterfaces(root: string): Promise<string[]> {
  try {
    return (await readdir(join(root, 'net', 'ipv4', 'conf'))).filter(
      n => n !== 'all' && n !== 'default' && n !== 'lo',
    )
  } catch {
    return []
  }
}

/** Everything that keeps `vips` from working for direct routing; empty when ready. */
export async function checkDrNode(
  vips: readonly string[],
  io: DrNodeIo = {},
): Promise<DrNodeProblem[]> {
  const root = io.sysctlRoot ?? '/proc/sys'
  const problems: DrNodeProblem[] = []
  const addrs = await addresses(io)
  const has4 = vips.some(v => isIP(v) === 4)
  for (const vip of vips) {
    if (isIP(vip) === 0) {
      problems.push({
        what: 'address',
        message: `"${vip}" is not an IP address`,
      })
      continue
    }
    const on = addrs.filter(a => a.local === vip).map(a => a.ifname)
    if (!on.includes('lo')) {
      problems.push({
        what: 'address',
        message: `VIP ${vip} is not on lo (ip addr add ${vip}/${isIP(vip) === 6 ? '128' : '32'} dev lo${isIP(vip) === 6 ? ' nodad' : ''})`,
      })
    }
    const elsewhere = on.filter(i => i !== 'lo')
    if (elsewhere.length) {
      problems.push({
        what: 'address',
        message: `VIP ${vip} is also on ${elsewhere.join(', ')}, so this node answers ARP/ND for it; keep it on lo only`,
      })
    }
  }
  if (has4) {
    // The kernel uses max(all, <interface>) for both sysctls.
    const allIgnore = (await readNum(root, 'net.ipv4.conf.all.arp_ignore')) ?? 0
    const allAnnounce =
      (await readNum(root, 'net.ipv4.conf.all.arp_announce')) ?? 0
    for (const dev of await arpInterfaces(root)) {
      const ignore = Math.max(
        allIgnore,
        (await readNum(root, `net.ipv4.conf.${dev}.arp_ignore`)) ?? 0,
      )
      if (ignore < 1) {
        problems.push({
          what: 'net.ipv4.conf.all.arp_ignore',
          message: `net.ipv4.conf.all.arp_ignore (and net.ipv4.conf.${dev}.arp_ignore) is 0: ${dev} answers ARP for the VIP held on lo; set net.ipv4.conf.all.arp_ignore=1`,
        })
      }
      const announce = Math.max(
        allAnnounce,
        (await readNum(root, `net.ipv4.conf.${dev}.arp_announce`)) ?? 0,
      )
      if (announce < 2) {
        problems.push({
          what: 'net.ipv4.conf.all.arp_announce',
          message: `net.ipv4.conf.all.arp_announce (and net.ipv4.conf.${dev}.arp_announce) is ${announce}: ${dev} may use the VIP as ARP source; set net.ipv4.conf.all.arp_announce=2`,
        })
      }
    }
  }
  // One line per sysctl is enough, whatever the number of interfaces.
  const seen = new Set<string>()
  return problems.filter(p =>
    p.what === 'address'
      ? true
      : seen.has(p.what)
        ? false
        : (seen.add(p.what), true),
  )
}

/** Applies the set-up (sysctls, VIPs on lo), then checks again. */
export async function setupDrNode(
  vips: readonly string[],
  io: DrNodeIo = {},
): Promise<DrNodeProblem[]> {
  const root = io.sysctlRoot ?? '/proc/sys'
  const ip = io.ip ?? runIp
  if (vips.some(v => isIP(v) === 4)) {
    await writeFile(sysPath(root, 'net.ipv4.conf.all.arp_ignore'), '1\n')
    await writeFile(sysPath(root, 'net.ipv4.conf.all.arp_announce'), '2\n')
  }
  const addrs = await addresses(io)
  for (const vip of vips) {
    if (
      isIP(vip) === 0 ||
      addrs.some(a => a.local === vip && a.ifname === 'lo')
    )
      continue
    const args =
      isIP(vip) === 6
        ? ['-6', 'addr', 'add', `${vip}/128`, 'dev', 'lo', 'nodad']
        : ['addr', 'add', `${vip}/32`, 'dev', 'lo']
    const r = await ip(args)
    if (r.code !== 0)
      throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`)
  }
  return checkDrNode(vips, io)
}
