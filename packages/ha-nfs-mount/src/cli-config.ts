// Turns command-line mount and sync forms into config text, so that the
// command line and the config file share one parser and one set of checks.

export interface MountFlags {
  readonly options?: string
  readonly mounter?: string
  readonly stagingDir?: string
  readonly failures?: string
  readonly failbackHold?: string
  readonly interval?: string
  readonly bindMap?: readonly string[]
}

const q = (s: string): string => `"${s.replace(/(["\\])/g, '\\$1')}"`

export function mountConfigText(
  source: string,
  mountPoint: string,
  f: MountFlags,
): string {
  const lines: string[] = []
  if (f.mounter) lines.push(`mounter ${q(f.mounter)}`)
  if (f.stagingDir) lines.push(`staging-dir ${q(f.stagingDir)}`)
  if (f.failures) lines.push(`failures ${q(f.failures)}`)
  if (f.failbackHold) lines.push(`failback-hold ${q(f.failbackHold)}`)
  if (f.interval) lines.push(`interval ${q(f.interval)}`)
  for (const b of f.bindMap ?? []) {
    const i = b.lastIndexOf('=')
    lines.push(
      i > 0
        ? `bind-map ${q(b.slice(0, i))} ${q(b.slice(i + 1))}`
        : `bind-map ${q(b)}`,
    )
  }
  lines.push(
    `${q(source)} ${q(mountPoint)}${f.options ? ` ${q(f.options)}` : ''}`,
  )
  return lines.join('\n') + '\n'
}

export interface SyncFlags {
  readonly delay?: string
  readonly rsync?: string
}

export function syncConfigText(
  source: string,
  target: string,
  f: SyncFlags,
): string {
  const lines: string[] = []
  if (f.delay) lines.push(`sync-delay ${q(f.delay)}`)
  if (f.rsync) lines.push(`rsync-path ${q(f.rsync)}`)
  lines.push(`sync ${q(source)} ${q(target)}`)
  return lines.join('\n') + '\n'
}
