// How a server's export reaches its staging directory. The real mounter
// runs `mount -t nfs`; the bind mounter bind-mounts a local directory that
// a (real, test-started) NFS server exports. The bind mounter is THE seam
// for kernels without an NFS client: everything else (RPC probes, stat
// probes, the presented mount and its swap) is the same code either way.

import { access, constants } from 'node:fs/promises'
import { join } from 'node:path'
import { execCommand, type ExecResult } from './exec.js'
import { hnmError } from './errors.js'
import type { HnmConfig, MounterKind } from './config.js'

export interface Mounter {
  readonly kind: MounterKind
  /** Checks helpers and privileges once at start; throws a coded error. */
  preflight(): Promise<void>
  /** Mounts `server:exportPath` on `staging`. */
  mountReplica(
    server: string,
    exportPath: string,
    staging: string,
    options: readonly string[],
  ): Promise<void>
}

/** Shared mount-table operations (used by both mounters and the presenter). */
export class MountOps {
  /** Budget of one mount/umount command; a reload may change it. */
  timeoutMs: number

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs
  }

  async run(cmd: string, args: readonly string[]): Promise<ExecResult> {
    const r = await execCommand(cmd, args, this.timeoutMs)
    const what = `${cmd} ${args.join(' ')}`
    if (r.spawnError === 'ENOENT')
      throw hnmError('HNM_ERR_MOUNT_HELPER', cmd, 'not in PATH')
    if (r.spawnError) throw hnmError('HNM_ERR_MOUNT_FAILED', what, r.spawnError)
    if (r.timedOut)
      throw hnmError('HNM_ERR_MOUNT_TIMEOUT', what, this.timeoutMs)
    if (r.code !== 0)
      throw hnmError(
        'HNM_ERR_MOUNT_FAILED',
        what,
        r.stderr.trim() || `exit ${r.code}`,
      )
    return r
  }

  bind(source: string, target: string): Promise<ExecResult> {
    return this.run('mount', ['--bind', source, target])
  }

  /** Lazy unmount: detaches at once even when the server is dead. */
  async detach(target: string): Promise<boolean> {
    const r = await execCommand('umount', ['-l', target], this.timeoutMs)
    return r.code === 0
  }
}

export async function checkRoot(): Promise<void> {
  const uid = process.getuid?.() ?? 0
  if (uid !== 0) throw hnmError('HNM_ERR_NOT_ROOT', uid)
}

async function executable(p: string): Promise<boolean> {
  return access(p, constants.X_OK).then(
    () => true,
    () => false,
  )
}

/** Finds `name` in PATH (plus extra dirs); undefined when absent. */
export async function findHelper(
  name: string,
  extraDirs: readonly string[] = [],
): Promise<string | undefined> {
  const dirs = [
    ...(process.env.PATH ?? '').split(':').filter(Boolean),
    ...extraDirs,
  ]
  for (const d of dirs) {
    if (await executable(join(d, name))) return join(d, name)
  }
  return undefined
}

/** Root, and the mount/umount/stat binaries: what every mounter needs. */
async function basePreflight(): Promise<void> {
  await checkRoot()
  // Without stat every stat probe fails: better a clear error at start
  // than every replica reported down.
  for (const helper of ['mount', 'umount', 'stat']) {
    if (!(await findHelper(helper))) {
      throw hnmError(
        'HNM_ERR_MOUNT_HELPER',
        helper,
        `not in PATH (${process.env.PATH ?? ''})`,
      )
    }
  }
}

// mount(8) looks for its helpers in /sbin and /usr/sbin whatever PATH says.
const MOUNT_NFS_DIRS = ['/sbin', '/usr/sbin']

export class NfsMounter implements Mounter {
  readonly kind = 'nfs' as const
  constructor(readonly ops: MountOps) {}

  async preflight(): Promise<void> {
    await basePreflight()
    if (!(await findHelper('mount.nfs', MOUNT_NFS_DIRS))) {
      throw hnmError(
        'HNM_ERR_MOUNT_HELPER',
        'mount.nfs',
        'install nfs-common (Debian) or nfs-utils',
      )
    }
  }

  async mountReplica(
    server: string,
    exportPath: string,
    staging: string,
    options: readonly string[],
  ): Promise<void> {
    const args = ['-t', 'nfs']
    if (options.length) args.push('-o', options.join(','))
    await this.ops.run('mount', [...args, `${server}:${exportPath}`, staging])
  }
}

export class BindMounter implements Mounter {
  readonly kind = 'bind' as const
  constructor(
    readonly ops: MountOps,
    readonly map: Readonly<Record<string, string>>,
  ) {}

  async preflight(): Promise<void> {
    await basePreflight()
  }

  async mountReplica(
    server: string,
    exportPath: string,
    staging: string,
  ): Promise<void> {
    const dir = this.map[`${server}:${exportPath}`]
    if (!dir)
      throw hnmError(
        'HNM_ERR_MOUNT_FAILED',
        `bind ${server}:${exportPath}`,
        'no bind-map entry',
      )
    await this.ops.bind(dir, staging)
  }
}

export function createMounter(config: HnmConfig, ops: MountOps): Mounter {
  return config.mounter === 'bind'
    ? new BindMounter(ops, config.bindMap)
    : new NfsMounter(ops)
}
