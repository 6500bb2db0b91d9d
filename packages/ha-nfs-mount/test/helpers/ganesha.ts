// Real NFS servers for the tests: one nfs-ganesha (VFS backend) per
// network namespace, each with its own rpcbind in a private mount
// namespace (rpcbind's socket lives in /run, so two would collide).
// Every process is started here and killed here, by PID.

import { spawn } from 'node:child_process'
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { run, track, type Proc } from '@has/test-support'

export interface GaneshaOptions {
  readonly ns: string
  readonly addr: string
  readonly dir: string
  readonly exportDir: string
}

export interface Ganesha {
  readonly opts: GaneshaOptions
  readonly proc: Proc
  readonly pid: number
  readonly addr: string
  readonly exportDir: string
  /** SIGKILL ganesha (not rpcbind): the abrupt death of a server. */
  kill(): Promise<void>
  /** Stops ganesha and its rpcbind. */
  stop(): Promise<void>
}

export function ganeshaConfig(
  exportDir: string,
  recoveryDir: string,
  exportPath = '/export',
): string {
  return `NFS_CORE_PARAM {
  Protocols = 3, 4;
  Enable_NLM = false;
  Enable_RQUOTA = false;
  NFS_Port = 2049;
}
NFSv4 { Graceless = true; RecoveryRoot = ${recoveryDir}; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT {
  Export_Id = 1;
  Path = ${exportDir};
  Pseudo = ${exportPath};
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  FSAL { Name = VFS; }
}
`
}

export async function startGanesha(opts: GaneshaOptions): Promise<Ganesha> {
  const { ns, dir, exportDir } = opts
  mkdirSync(join(dir, 'recovery'), { recursive: true })
  const conf = join(dir, 'ganesha.conf')
  writeFileSync(conf, ganeshaConfig(exportDir, join(dir, 'recovery')))
  const rpcbindPid = join(dir, 'rpcbind.pid')
  // ip netns exec and unshare exec (no fork) and sh execs ganesha, so the
  // child's PID is ganesha's; rpcbind's PID goes to a file.
  const script = [
    'set -e',
    'mount -t tmpfs has-rpcbind /run',
    'mkdir -p /run/rpcbind',
    `rpcbind -f & echo $! > ${rpcbindPid}`,
    'i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
    `exec ganesha.nfsd -F -f ${conf} -L ${join(dir, 'ganesha.log')} -p ${join(dir, 'ganesha.pid')} -N NIV_EVENT`,
  ].join('\n')
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const proc = track(child)
  const stopRpcbind = (): void => {
    let pid = 0
    try {
      pid = Number(readFileSync(rpcbindPid, 'utf8').trim())
    } catch {
      /* not started */
    }
    // An empty file reads as 0, and kill(0) would hit our own process group.
    if (!Number.isInteger(pid) || pid <= 1) return
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
  // Ready when the NFS program answers a NULL call (rpcinfo, from inside
  // the server's namespace: the test itself cannot route there), bounded.
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`ganesha exited: ${proc.stderr.join('')}`)
    }
    const r = await run('ip', [
      'netns',
      'exec',
      ns,
      'rpcinfo',
      '-n',
      '2049',
      '-t',
      '127.0.0.1',
      '100003',
      '4',
    ])
    if (r.code === 0) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      stopRpcbind()
      throw new Error(`ganesha in ${ns} not answering: ${JSON.stringify(r)}`)
    }
    await new Promise(res => setTimeout(res, 100))
  }
  return {
    opts,
    proc,
    pid: child.pid as number,
    addr: opts.addr,
    exportDir,
    async kill() {
      await proc.stop('SIGKILL')
    },
    async stop() {
      await proc.stop('SIGKILL')
      stopRpcbind()
    },
  }
}
