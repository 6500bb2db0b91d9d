// A comparable snapshot of a directory tree: type, mode, owner, size,
// mtime (s), content hash, link target.

import { createHash } from 'node:crypto'
import { lstat, readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'

export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const r = rel ? `${rel}/${name}` : name
      const p = join(root, r)
      const st = await lstat(p)
      const base = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`
      if (st.isSymbolicLink()) out[r] = `link ${base} -> ${await readlink(p)}`
      else if (st.isDirectory()) {
        out[r] = `dir ${base}`
        await walk(r)
      } else {
        const h = createHash('sha1')
          .update(await readFile(p))
          .digest('hex')
        out[r] = `file ${base} ${st.size} ${Math.floor(st.mtimeMs / 1000)} ${h}`
      }
    }
  }
  await walk('')
  return out
}
