// The NFS lab: a client namespace joined by veths to two server
// namespaces, a ganesha in each, exporting two tmp directories. The
// daemon under test runs in the client network namespace through nsenter
// (network only), so its mounts land in our mount namespace and the test
// can read the presented mount point directly.

import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { binPath, run, track, type Proc } from '@has/test-support'
import { NetnsLab } from '@has/test-support'
import { startGanesha, type Ganesha } from './ganesha.js'

export interface NfsLab {
  readonly dir: string
  readonly client: string
  readonly servers: Ganesha[]
  readonly exports: string[]
  readonly mountPoint: string
  readonly staging: string
  /** Stops server i (with its rpcbind) and starts a fresh one. */
  restartServer(i: number): Promise<Ganesha>
  spawnDaemon(args: readonly string[]): Proc
  configText(extra?: string, failbackHold?: string): string
  cleanup(): Promise<void>
}

export async function makeNfsLab(tag: string): Promise<NfsLab> {
  const lab = new NetnsLab(tag)
  const dir = mkdtempSync(join(tmpdir(), `hnm-${tag}-`))
  const servers: Ganesha[] = []
  const procs: Proc[] = []
  const mountPoint = join(dir, 'mnt')
  const staging = join(dir, 'staging')
  const exports = [join(dir, 'export1'), join(dir, 'export2')]
  const cleanup = async (): Promise<void> => {
    for (const p of procs) await p.stop('SIGKILL')
    for (const s of servers) await s.stop()
    // Whatever the daemon left (it should leave nothing): lazily, ours only.
    for (let i = 0; i < 4; i++) await run('umount', ['-l', mountPoint])
    for (const s of ['10.77.1.2', '10.77.2.2']) {
      await run('umount', [
        '-l',
        join(
          staging,
          dir.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]/g, '_') + '_mnt',
          s,
        ),
      ])
    }
    await lab.cleanup()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const client = await lab.add('c')
    const addrs = ['10.77.1.2', '10.77.2.2']
    const starts: Promise<Ganesha>[] = []
    for (let i = 0; i < 2; i++) {
      const ns = await lab.add(`s${i + 1}`)
      await lab.veth(
        { ns: client, ifname: `c${i + 1}`, addr: `10.77.${i + 1}.1/24` },
        { ns, ifname: 'eth0', addr: `${addrs[i]}/24` },
      )
      const exportDir = exports[i] as string
      mkdirSync(exportDir)
      const sdir = join(dir, `server${i + 1}`)
      mkdirSync(sdir)
      starts.push(
        startGanesha({ ns, addr: addrs[i] as string, dir: sdir, exportDir }),
      )
    }
    // Both servers start in parallel; every one that started is stopped
    // in cleanup even if the other failed.
    const settled = await Promise.allSettled(starts)
    for (const r of settled) if (r.status === 'fulfilled') servers.push(r.value)
    for (const r of settled) if (r.status === 'rejected') throw r.reason
    mkdirSync(mountPoint)
    return {
      dir,
      client,
      servers,
      exports,
      mountPoint,
      staging,
      async restartServer(i) {
        const old = servers[i] as Ganesha
        await old.stop()
        const fresh = await startGanesha(old.opts)
        servers[i] = fresh
        return fresh
      },
      spawnDaemon(args) {
        const child = spawn(
          'nsenter',
          [
            `--net=/run/netns/${client}`,
            process.execPath,
            binPath('ha-nfs-mount'),
            ...args,
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        )
        const p = track(child)
        procs.push(p)
        return p
      },
      configText(extra = '', failbackHold = 'never') {
        return (
          [
            'mounter bind',
            `staging-dir ${staging}`,
            // Generous for a loaded CI box; the figure is logged, not asserted.
            'interval 150ms',
            'probe-timeout 150ms',
            'failures 3',
            `failback-hold ${failbackHold}`,
            `bind-map 10.77.1.2:/export ${exports[0]}`,
            `bind-map 10.77.2.2:/export ${exports[1]}`,
            `10.77.1.2,10.77.2.2:/export ${mountPoint}`,
            extra,
          ].join('\n') + '\n'
        )
      },
      cleanup,
    }
  } catch (e) {
    await cleanup()
    throw e
  }
}
