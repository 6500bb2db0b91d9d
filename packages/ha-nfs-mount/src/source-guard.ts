// Refuse a sync pass whose source is empty while the target is not (or
// cannot be looked at): with --delete that pass would wipe the twin. The
// usual cause is an export whose disk is not mounted yet, leaving the bare
// mount point. With an empty or missing local target there is nothing to
// lose, so the pass runs (and fails or succeeds on its own merits).

import { readdir } from 'node:fs/promises'

export type SourceVerdict = 'sync' | 'refuse'

/** rsync remote targets (host:path, rsync://) cannot be listed from here. */
export function isRemoteTarget(target: string): boolean {
  return target.startsWith('rsync://') || /^[^/]*:/.test(target)
}

/** Empty, or missing: nothing a --delete pass could remove. */
async function holdsNothing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT'
  }
}

export async function checkSource(
  source: string,
  target: string,
): Promise<SourceVerdict> {
  const sourceEmpty = await readdir(source).then(
    e => e.length === 0,
    () => false, // unreadable: let rsync report it
  )
  if (!sourceEmpty) return 'sync'
  if (!isRemoteTarget(target) && (await holdsNothing(target))) return 'sync'
  return 'refuse'
}
