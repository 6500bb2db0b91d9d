// Network namespaces made by a test, for kernel paths (routes, VIPs, nft,
// conntrack, RAs). Names carry the test's PID so parallel tests never
// collide; teardown deletes every namespace it made. Traffic in these tests
// goes only to addresses inside these namespaces.

import type { Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { run } from './daemon.js'

export const isRoot = process.getuid?.() === 0

/**
 * Returns false (and prints why) when the test cannot run here; tap
 * records it as skipped. Root-only tests do run in CI, which is root.
 */
export function needsRoot(t: Pick<Test, 'skip'>): boolean {
  if (isRoot) return true
  const msg = 'skipped: needs root for network namespaces (CI runs as root)'
  console.log(`# ${msg}`)
  // A skipped (never run) subtest: the report shows "# SKIP" with the reason.
  t.skip(msg, () => {})
  return false
}

/**
 * As root, the argv that runs `node script ...` as uid nobody with no
 * capabilities (`env -i`: tap's loader, injected through NODE_OPTIONS,
 * would fail as nobody), or undefined, after a printed skip, when nobody
 * cannot read the checkout (a clone under a 0700 directory, as mktemp -d
 * makes): the test would only measure the file modes.
 */
export function asNobody(
  t: Pick<Test, 'skip'>,
  script: string,
  args: readonly string[],
): string[] | undefined {
  const argv = [
    'setpriv',
    '--reuid=65534',
    '--regid=65534',
    '--clear-groups',
    '--inh-caps=-all',
    'env',
    '-i',
    process.execPath,
  ]
  const probe = spawnSync(
    argv[0] as string,
    [...argv.slice(1), script, '--version'],
    { stdio: 'ignore' },
  )
  if (probe.status !== 0) {
    const msg = `skipped: uid nobody cannot read ${script} (checkout under a private directory)`
    console.log(`# ${msg}`)
    t.skip(msg, () => {})
    return undefined
  }
  return [...argv, script, ...args]
}

export async function sh(
  cmd: string,
  args: readonly string[],
): Promise<string> {
  const r = await run(cmd, args)
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`,
    )
  }
  return r.stdout
}

export class NetnsLab {
  readonly prefix: string
  readonly #made: string[] = []
  static #n = 0

  constructor(tag: string) {
    // Namespace names are limited only by the file name; interface names
    // (15 chars) are built by the caller.
    this.prefix = `has${process.pid % 100000}${tag}${NetnsLab.#n++}`
  }

  /** Creates namespace `<prefix>-<name>` with loopback up; returns its name. */
  async add(name: string): Promise<string> {
    const ns = `${this.prefix}-${name}`
    await sh('ip', ['netns', 'add', ns])
    this.#made.push(ns)
    await this.ip(ns, ['link', 'set', 'lo', 'up'])
    return ns
  }

  ip(ns: string, args: readonly string[]): Promise<string> {
    return sh('ip', ['-n', ns, ...args])
  }

  exec(ns: string, cmd: string, args: readonly string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args])
  }

  /** A veth pair between two namespaces, both ends up, optional addresses (CIDR). */
  async veth(
    a: { ns: string; ifname: string; addr?: string },
    b: { ns: string; ifname: string; addr?: string },
  ): Promise<void> {
    await sh('ip', [
      'link',
      'add',
      a.ifname,
      'netns',
      a.ns,
      'type',
      'veth',
      'peer',
      'name',
      b.ifname,
      'netns',
      b.ns,
    ])
    for (const end of [a, b]) {
      if (end.addr)
        await this.ip(end.ns, ['addr', 'add', end.addr, 'dev', end.ifname])
      await this.ip(end.ns, ['link', 'set', end.ifname, 'up'])
    }
  }

  /** A bridge inside `ns`, up. */
  async bridge(ns: string, name = 'br0'): Promise<string> {
    await this.ip(ns, ['link', 'add', name, 'type', 'bridge'])
    await this.ip(ns, ['link', 'set', name, 'up'])
    return name
  }

  /**
   * A LAN: a bridge in a namespace of its own, and one namespace per host
   * plugged into it by its `eth0` with the given address (CIDR; IPv6 ones
   * skip duplicate address detection). Returns the hosts' namespace names.
   */
  async lan<N extends string>(
    hosts: readonly (readonly [N, string])[],
  ): Promise<Record<N, string>> {
    const br = await this.add('br')
    await this.bridge(br)
    const ns = {} as Record<N, string>
    let port = 1
    for (const [name, addr] of hosts) {
      const n = await this.add(
        name.length > 3 ? name.slice(0, 2) + name.slice(-1) : name,
      )
      ns[name] = n
      await this.veth({ ns: n, ifname: 'eth0' }, { ns: br, ifname: `p${port}` })
      await this.ip(
        n,
        addr.includes(':')
          ? ['-6', 'addr', 'add', addr, 'dev', 'eth0', 'nodad']
          : ['addr', 'add', addr, 'dev', 'eth0'],
      )
      await this.ip(br, ['link', 'set', `p${port++}`, 'master', 'br0'])
    }
    return ns
  }

  async cleanup(): Promise<void> {
    for (const ns of this.#made.splice(0).reverse()) {
      await run('ip', ['netns', 'pids', ns]).then(async r => {
        // Processes started in the namespace by this test only.
        for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL')
          } catch {
            /* gone */
          }
        }
      })
      await run('ip', ['netns', 'del', ns])
    }
  }
}
