// The rsync command line for one sync pass (pure). Every pass is a whole
// tree pass with --delete: rsync only sends what differs, and a pass after
// an outage is therefore the "full sync" that makes the copies converge.

export interface RsyncArgsOptions {
  readonly source: string
  readonly target: string
  /** I/O timeout (s) so a dead peer fails the pass instead of hanging it. */
  readonly ioTimeoutS: number
  /** rsync daemon connect timeout (s); rsync's own default is 30 s. */
  readonly connectTimeoutS?: number
  readonly extra?: readonly string[]
}

export function rsyncArgs(o: RsyncArgsOptions): string[] {
  const args = [
    '-a', // recursive, links, perms, times, group, owner, devices
    '--delete', // removals on the source are removed on the target
    '--numeric-ids', // owners as numbers: both exports serve the same uids
    '--hard-links',
    `--timeout=${o.ioTimeoutS}`,
  ]
  if (o.target.startsWith('rsync://'))
    args.push(`--contimeout=${o.connectTimeoutS ?? o.ioTimeoutS}`)
  return [...args, ...(o.extra ?? []), withSlash(o.source), withSlash(o.target)]
}

/** A trailing slash makes rsync copy the directory's contents, not the dir. */
function withSlash(p: string): string {
  return p.endsWith('/') ? p : `${p}/`
}

/** Exit 24 (files vanished while scanning) means "more changes came": not a failure. */
export function rsyncSucceeded(code: number | null): boolean {
  return code === 0 || code === 24
}

/** Back-off after `failures` consecutive failures (pure). */
export function backoffMs(
  failures: number,
  minMs: number,
  maxMs: number,
): number {
  if (failures <= 0) return 0
  return Math.min(maxMs, minMs * 2 ** Math.min(failures - 1, 30))
}
