// The mount-table seam for tests without root: bind mounts and detaches
// are recorded instead of run (the NFS client is not in this kernel).

import { MountOps } from '../../src/mounter.js'
import type { ExecResult } from '../../src/exec.js'

export const ok: ExecResult = {
  code: 0,
  stdout: '',
  stderr: '',
  timedOut: false,
  ms: 0,
}

export class FakeOps extends MountOps {
  readonly binds: [string, string][] = []
  readonly detached: string[] = []
  override async bind(source: string, target: string): Promise<ExecResult> {
    this.binds.push([source, target])
    return ok
  }
  override async detach(target: string): Promise<boolean> {
    this.detached.push(target)
    return true
  }
}
